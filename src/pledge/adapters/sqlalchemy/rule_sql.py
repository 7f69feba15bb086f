"""Rules compiled to SQL boolean expressions that mean exactly what CEL means.

The batch path runs a rule inside the database (125× faster than pulling rows
into Python), so the SQL must agree with the in-process CEL engine on every
row. What makes that hold:

- No nulls exist (every rule field is ``NOT NULL``, absent text is ``""``), so
  CEL ``==``/``!=`` are plain ``=``/``<>`` and ``NOT`` is two-valued.
- Strings compare by code point, CEL's order: each dialect pins a byte-order
  collation (SQLite ``BINARY``, PostgreSQL and DuckDB ``COLLATE "C"``/``C``,
  Spark ``UTF8_BINARY``), on every string operand where the engine has one, so a
  column or view with another collation cannot change it. UTF-8 byte order is
  code-point order.
- Every literal is cast to its rule type, so SQLite's type affinity can never
  compare a string numerically (``'1' = 1``); the parser already refused rules
  comparing different types.
- Instants are epoch-µs ``BIGINT`` columns compared with integer literals:
  no ``TIMESTAMP`` cast ever drops an offset.

Dialects: ``sqlite``, ``postgresql``, ``duckdb``, ``spark`` (Spark SQL ≥ 4.0);
how each spells literals and why is in :mod:`rule_sql_dialects`.

Literals are bind parameters (``:r0``, ``:r1``…, with a caller-chosen prefix so
several conditions fit in one statement), or, with ``inline=True``, SQL
literals for engines reached without bind parameters (warehouses). Bind
parameters are spelled ``:name``: SQLAlchemy ``text()`` and Spark's named
parameter markers read that; DuckDB's own API spells them ``$name``. Inline
string literals never contain ``:`` or ``%`` (they are spelled as escapes or
``char()``/``chr()``), because placeholder scanners are not quote-aware: through
SQLAlchemy's psycopg driver ``SELECT 'a%b' = 'a%b'`` returns false.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pledge.adapters.sqlalchemy.rule_sql_dialects import DIALECTS, SqlDialect
from pledge.domain.rules import STORAGE, And, Compare, InList, Literal, Node, Not, Operand, Or, Rule

__all__ = [
    "DEFAULT_COLUMNS",
    "DIALECTS",
    "PLEDGE_COLUMNS",
    "columns_for",
    "compile_condition_sql",
    "compile_rule_sql",
    "compile_rule_where",
    "stored_columns",
]

_SQL_OPS: Final = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def columns_for(purchase_alias: str = "p", account_alias: str = "a") -> dict[str, str]:
    """Field → column expression, for ``purchases`` and ``accounts`` under the given aliases."""
    aliases = {"purchases": purchase_alias, "accounts": account_alias}
    return {name: f"{aliases[table]}.{column}" for name, (table, column) in STORAGE.items()}


DEFAULT_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(columns_for())


def stored_columns(alias: str = "p") -> dict[str, str]:
    """Field → column of Pledge's own ``purchases``, which carries the account fields (ADR 12)."""
    columns = columns_for(alias, alias)
    columns.update(
        {
            "account.account_id": f"{alias}.account_id",
            "account.region": f"{alias}.account_region",
            "account.registered_at": f"{alias}.account_registered_at_us",
        }
    )
    return columns


# What Pledge's scans use: one table, no join per purchase.
PLEDGE_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(stored_columns())


def _dialect(name: str) -> SqlDialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"no rule SQL for dialect {name!r} (known: {', '.join(DIALECTS)})") from None


class _Renderer:
    def __init__(self, dialect: SqlDialect, columns: Mapping[str, str], prefix: str, inline: bool) -> None:
        self.dialect = dialect
        self.columns = columns
        self.prefix = prefix
        self.inline = inline
        self.params: dict[str, object] = {}

    def literal(self, literal: Literal) -> str:
        d = self.dialect
        if literal.type == "string":
            assert isinstance(literal.value, str)
            text = d.string_literal(literal.value) if self.inline else self.bind(literal.value)
            return f"CAST({text} AS {d.text_type}){d.collate}"
        assert isinstance(literal.value, int)
        if not self.inline:
            return f"CAST({self.bind(literal.value)} AS {d.int_type})"
        return d.int_literal(literal.value)

    def bind(self, value: object) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def operand(self, operand: Operand) -> str:
        if isinstance(operand, Literal):
            return self.literal(operand)
        try:
            column = self.columns[operand.name]
        except KeyError:
            raise ValueError(f"no column is mapped for field {operand.name}") from None
        return f"{column}{self.dialect.collate}" if operand.type == "string" else column

    def node(self, node: Node) -> str:
        if isinstance(node, Compare):
            return f"({self.operand(node.left)} {_SQL_OPS[node.op]} {self.operand(node.right)})"
        if isinstance(node, InList):
            if not node.values:
                return "(1 = 0)"  # CEL: x in [] is false; SQL "IN ()" is not valid everywhere
            items = ", ".join(self.literal(value) for value in node.values)
            return f"({self.operand(node.item)} IN ({items}))"
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(self.node(item) for item in node.items) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.node(node.item)})"
        raise TypeError(f"not a rule node: {node!r}")


def compile_condition_sql(
    node: Node,
    dialect: str,
    columns: Mapping[str, str] = DEFAULT_COLUMNS,
    *,
    prefix: str = "r",
    inline: bool = False,
) -> tuple[str, dict[str, object]]:
    """One condition as a SQL boolean expression and its bind parameters (``{}`` when inline)."""
    renderer = _Renderer(_dialect(dialect), columns, prefix, inline)
    return renderer.node(node), renderer.params


def compile_rule_sql(
    rule: Rule,
    dialect: str,
    columns: Mapping[str, str] = DEFAULT_COLUMNS,
    *,
    inline: bool = False,
) -> list[tuple[str, dict[str, object]]]:
    """One ``(sql, params)`` per condition, in order; parameter names never collide across them."""
    return [
        compile_condition_sql(c.node, dialect, columns, prefix=f"r{i}_", inline=inline)
        for i, c in enumerate(rule.conditions)
    ]


def compile_rule_where(
    rule: Rule,
    dialect: str,
    columns: Mapping[str, str] = DEFAULT_COLUMNS,
    *,
    inline: bool = False,
) -> tuple[str, dict[str, object]]:
    """The whole rule as one predicate (``(1 = 1)`` when it has no conditions), for ``WHERE``."""
    parts = compile_rule_sql(rule, dialect, columns, inline=inline)
    if not parts:
        return "(1 = 1)", {}
    params: dict[str, object] = {}
    for _, part_params in parts:
        params.update(part_params)
    return "(" + " AND ".join(sql for sql, _ in parts) + ")", params
