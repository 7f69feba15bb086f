"""How each SQL engine spells a rule's types, literals and collation so it means what CEL means.

One :class:`SqlDialect` per engine; :mod:`rule_sql` renders the rule tree with it.
What must hold on every engine (ADR 0002): strings compare by code point,
integers and instants (epoch µs) are 64-bit, there are no nulls, and an inline
literal is read back as exactly the value it spells. Per engine:

- **sqlite**: ``BINARY`` collation (the default) compares UTF-8 bytes, which is
  code-point order. Literals are cast so type affinity never applies.
- **postgresql**: ``COLLATE "C"`` on every string operand (byte order whatever
  the column's or database's collation). ``E''`` strings mean the same whatever
  ``standard_conforming_strings`` says.
- **duckdb**: ``VARCHAR`` compares by bytes under the default ``BINARY``
  collation (alias ``C``); ``COLLATE C`` is spelled out so a column declared
  ``COLLATE NOCASE`` or ``SET default_collation`` cannot change the result.
  A backslash is an ordinary character in a plain ``'…'`` literal (only
  ``E'…'`` reads escapes) and ``''`` is a quote.
- **spark** (Spark SQL ≥ 4.0, Databricks): ``COLLATE UTF8_BINARY`` (byte order;
  explicit beats a column's or the session's collation — ``UTF8_LCASE`` would
  make ``"CN" == "cn"``, ``UNICODE`` would sort ``"a" < "B"`` and may equate
  canonically equivalent ``"é"`` and ``"e\\u0301"``, ``_RTRIM`` would equate
  ``"a "`` with ``"a"``).
  Spark reads backslash escapes in ``'…'`` unless
  ``spark.sql.parser.escapedStringLiterals`` is on, reads ``'a''b'`` as two
  chained literals (``"ab"``) in Spark 3.x, and substitutes ``${…}`` in the SQL
  text (``spark.sql.variable.substitute``). So no backslash, quote or ``$``
  ever appears inside a Spark literal: they are spelled ``chr(92)``, ``chr(39)``
  and ``chr(36)``, which means the same under every setting. Integers carry
  the ``L`` (BIGINT) suffix.

Inline string literals never contain ``:`` or ``%`` on any engine (they are
spelled with ``char()``/``chr()`` or escapes): placeholder scanners in drivers
and in SQLAlchemy's ``text()`` are not quote-aware. ``INT64_MIN`` is never
written as ``-9223372036854775808``, which parses as minus a number too big
for BIGINT: it is ``(-9223372036854775807 - 1)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pledge.domain.money import INT64_MIN

__all__ = ["DIALECTS", "SqlDialect"]


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """What differs between engines: adding one is one more entry in :data:`DIALECTS`."""

    text_type: str
    int_type: str
    collate: str  # appended to every string operand
    string_literal: Callable[[str], str]
    int_literal: Callable[[int], str]


def _spelled(value: str, functions: Mapping[str, str], quote: str = "'") -> str:
    """``value`` as quoted runs joined by ``||`` with the characters in ``functions`` as calls.

    ``functions`` maps a character to the SQL that produces it (``chr(39)``); the
    runs between them only need ``quote`` doubled (pass ``""`` when no quote is
    left in the runs).
    """
    parts: list[str] = []
    run: list[str] = []
    for char in value:
        if char in functions:
            if run:
                parts.append("'" + "".join(run) + "'")
                run = []
            parts.append(functions[char])
        else:
            run.append(char * 2 if quote and char == quote else char)
    if run or not parts:
        parts.append("'" + "".join(run) + "'")
    return " || ".join(parts)


def _sqlite_string(value: str) -> str:
    return _spelled(value, {":": "char(58)", "%": "char(37)"})


def _postgres_string(value: str) -> str:
    # An E'' string means the same whatever standard_conforming_strings says.
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a").replace("%", "\\x25")
    return "E'" + escaped + "'"


def _duckdb_string(value: str) -> str:
    return _spelled(value, {":": "chr(58)", "%": "chr(37)"})


_SPARK_CHARS: Final = {char: f"chr({ord(char)})" for char in "'\\$:%"}


def _spark_string(value: str) -> str:
    return _spelled(value, _SPARK_CHARS, quote="")


def _plain_int(value: int) -> str:
    if value == INT64_MIN:
        return f"({INT64_MIN + 1} - 1)"
    return f"({value})" if value < 0 else str(value)


def _spark_int(value: int) -> str:
    # Without a suffix Spark types 1999 as INT and 2^31 as BIGINT; with L every literal is BIGINT.
    if value == INT64_MIN:
        return f"({INT64_MIN + 1}L - 1L)"
    return f"({value}L)" if value < 0 else f"{value}L"


DIALECTS: Final[Mapping[str, SqlDialect]] = MappingProxyType(
    {
        "sqlite": SqlDialect("TEXT", "INTEGER", "", _sqlite_string, _plain_int),
        "postgresql": SqlDialect("TEXT", "BIGINT", ' COLLATE "C"', _postgres_string, _plain_int),
        "duckdb": SqlDialect("VARCHAR", "BIGINT", " COLLATE C", _duckdb_string, _plain_int),
        "spark": SqlDialect("STRING", "BIGINT", " COLLATE UTF8_BINARY", _spark_string, _spark_int),
    }
)
