"""Differential test for the DuckDB dialect: compiled rules agree with CEL in process.

The same generated rules and rows as ``test_rule_differential.py`` (rows sit on,
beside and around each rule's literals; strings with quotes, backslashes, ``:``
``%`` ``$``, combining marks, astral code points, the empty string; ints and
instants at the int64 bounds) are stored in in-memory DuckDB ``purchases`` and
``accounts`` tables with the stored column types (``VARCHAR``/``BIGINT``, NOT
NULL) and every condition is evaluated by DuckDB and by CEL, with inline
literals and with bind parameters. DuckDB has no width or status constraints,
so rows keep their generated strings and negative prices.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pledge.adapters.cel.engine import compile_rule
from pledge.adapters.sqlalchemy.rule_sql import compile_rule_sql, compile_rule_where
from pledge.domain.money import INT64_MAX, INT64_MIN
from pledge.domain.rules import FIELDS, STORAGE, Rule, Value, evaluate_rule, parse_rule
from tests.integration.test_rule_differential import Case, S, at, base, fixed

FROM = "FROM purchases p JOIN accounts a ON a.account_id = p.account_id"
_TYPES = {"string": "VARCHAR", "int": "BIGINT", "timestamp": "BIGINT"}


def create_tables(con: duckdb.DuckDBPyConnection, collate: str = "") -> None:
    """The rule columns of both tables, typed as stored; ``collate`` is appended to every VARCHAR."""
    for table, key in (("purchases", "purchase_id"), ("accounts", "account_id")):
        columns = [
            f"{column} {_TYPES[FIELDS[name]]}{collate if FIELDS[name] == 'string' else ''} NOT NULL"
            + (" PRIMARY KEY" if column == key else "")
            for name, (owner, column) in STORAGE.items()
            if owner == table
        ]
        con.execute(f"CREATE TABLE {table} ({', '.join(columns)})")


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    create_tables(connection)
    return connection


def distinct(rows: list[dict[str, Value]]) -> list[dict[str, Value]]:
    """Unique purchase ids, one account per id (its first region and registration win)."""
    out: list[dict[str, Value]] = []
    seen: set[Value] = set()
    account_of: dict[Value, tuple[Value, Value]] = {}
    for original in rows:
        row = dict(original)
        row["account.account_id"] = row["purchase.account_id"]
        region, registered = account_of.setdefault(
            row["account.account_id"], (row["account.region"], row["account.registered_at"])
        )
        row["account.region"], row["account.registered_at"] = region, registered
        if row["purchase.purchase_id"] not in seen:
            seen.add(row["purchase.purchase_id"])
            out.append(row)
    return out


def store(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Value]]) -> None:
    con.execute("DELETE FROM purchases")
    con.execute("DELETE FROM accounts")
    for table in ("accounts", "purchases"):
        names = [name for name, (owner, _) in STORAGE.items() if owner == table]
        columns = ", ".join(STORAGE[name][1] for name in names)
        values = {tuple(row[name] for name in names) for row in rows} if table == "accounts" else None
        data = list(values) if values is not None else [tuple(row[name] for name in names) for row in rows]
        con.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in names)})",
            data,
        )


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], *, inline: bool) -> list[Any]:
    if inline:
        assert params == {}
        return con.execute(sql).fetchall()
    # The compiler writes SQLAlchemy-style ":name"; DuckDB's own API spells named parameters "$name".
    # Every literal is a parameter here, so no string literal in the SQL can contain ":r".
    return con.execute(re.sub(r":(r\d+_\d+)", r"$\1", sql), params).fetchall()


def sql_conditions(con: duckdb.DuckDBPyConnection, rule: Rule, *, inline: bool) -> dict[str, list[bool]]:
    parts = compile_rule_sql(rule, "duckdb", inline=inline)
    params: dict[str, Any] = {}
    for _, part_params in parts:
        params.update(part_params)
    columns = ", ".join(f"CASE WHEN {sql} THEN 1 ELSE 0 END" for sql, _ in parts)
    rows = run(con, f"SELECT p.purchase_id, {columns} {FROM}", params, inline=inline)
    return {row[0]: [bool(v) for v in row[1:]] for row in rows}


def sql_qualifying(con: duckdb.DuckDBPyConnection, rule: Rule, *, inline: bool) -> set[str]:
    where, params = compile_rule_where(rule, "duckdb", inline=inline)
    return {row[0] for row in run(con, f"SELECT p.purchase_id {FROM} WHERE {where}", params, inline=inline)}


def check(con: duckdb.DuckDBPyConnection, case: Case, *, inline: bool) -> None:
    source, _, generated = case
    rows = distinct(generated)
    rule = parse_rule(source)
    compiled = compile_rule(rule)
    store(con, rows)
    in_sql = sql_conditions(con, rule, inline=inline)
    assert set(in_sql) == {r["purchase.purchase_id"] for r in rows}
    for row in rows:
        expected = compiled.evaluate_conditions(row)
        assert expected == evaluate_rule(rule, row)
        assert in_sql[str(row["purchase.purchase_id"])] == expected, (source, row, inline)
    qualifying = {str(r["purchase.purchase_id"]) for r in rows if compiled.qualifies(r)}
    assert sql_qualifying(con, rule, inline=inline) == qualifying, (source, inline)


NASTY = (
    "",
    "'",
    "''",
    "\\",
    "\\'",
    "a'b\\c",
    ":r0_0",
    "$r0_0",
    "a%b",
    "${x}",
    "é",
    "e\u0301",
    "😀",
    "\U0010ffff",
)


def test_duckdb_agrees_with_cel_on_generated_rules(con: duckdb.DuckDBPyConnection) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(S.rule_cases(), st.booleans())
    # Code-point order: astral > U+FFFF (UTF-16 would say less), U+E000 > U+D7FF, "é" > "f".
    @example(
        fixed(
            'purchase.sku < "\\uffff" && purchase.serial >= "e\\u0301" && purchase.channel > "f"',
            base("1", purchase__sku="😀", purchase__channel="é"),
            base("2", purchase__sku="\ue000", purchase__serial="é", purchase__channel="F"),
            base("3", purchase__serial="f", purchase__channel="g"),
        ),
        True,
    )
    # Text is never compared as a number; "10" < "9".
    @example(
        fixed(
            'purchase.sku > "9" && purchase.sku in ["1", "01"]',
            base("1", purchase__sku="10"),
            base("2", purchase__sku="1"),
            base("3", purchase__sku="01"),
        ),
        True,
    )
    # Quotes, backslashes and placeholder look-alikes inside literals, inline and bound.
    @example(
        fixed(
            "purchase.sku in ["
            + ", ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in NASTY)
            + '] || purchase.serial == "it\'s"',
            *(base(str(i), purchase__sku=s) for i, s in enumerate(NASTY)),
            base("x", purchase__sku="a", purchase__serial="it's"),
            base("y", purchase__sku="it''s"),
        ),
        True,
    )
    # int64 bounds: INT64_MIN must not overflow the parser, in comparisons and IN lists.
    @example(
        fixed(
            "purchase.price > -9223372036854775808 && purchase.price in [9223372036854775807, "
            "-9223372036854775808, -1, 0, -9223372036854775807] && purchase.price != -9223372036854775807 && "
            "account.registered_at < timestamp('0001-01-01T00:00:00Z')",
            base("max", purchase__price=INT64_MAX, account__registered_at=INT64_MIN),
            base("min", purchase__price=INT64_MIN, account__registered_at=INT64_MIN),
            base("min+1", purchase__price=INT64_MIN + 1, account__registered_at=INT64_MIN),
            base("neg", purchase__price=-1, account__registered_at=INT64_MIN + 1),
            base("zero", purchase__price=0),
        ),
        True,
    )
    @example(
        fixed(
            'purchase.purchased_at <= timestamp("2011-12-07T23:59:59+08:00") && account.region == "CN"',
            base("in", purchase__purchased_at=at("2011-12-07T23:59:59+08:00")),
            base("out", purchase__purchased_at=at("2011-12-07T16:30:00Z")),
            base("hk", account__region="HK"),
        ),
        False,
    )
    @example(fixed("purchase.sku in [] || !(purchase.account_id != account.account_id)", base("1")), True)
    def differential(case: Case, inline: bool) -> None:
        check(con, case, inline=inline)

    differential()


def test_a_column_or_session_collation_cannot_change_the_result() -> None:
    """``COLLATE C`` on every operand wins over a NOCASE column and ``SET default_collation``."""
    con = duckdb.connect(":memory:")
    con.execute("SET default_collation = 'nocase'")
    create_tables(con, collate=" COLLATE NOCASE")
    store(
        con,
        distinct([base("up", account__region="CN", purchase__sku="B"), base("low", account__region="cn")]),
    )
    assert con.execute("SELECT count(*) FROM accounts WHERE region = 'cn'").fetchone() == (2,)  # NOCASE is on
    for source, expected in (
        ('account.region == "CN"', {"up"}),
        ('account.region in ["cn"]', {"low"}),
        ('purchase.sku < "b"', {"up"}),  # "B" < "b" by code point; equal under NOCASE
        ('purchase.sku == "b"', set()),
    ):
        for inline in (True, False):
            assert sql_qualifying(con, parse_rule(source), inline=inline) == expected, (source, inline)


def test_inline_literals_read_back_exactly() -> None:
    """Every nasty string, and the int64 bounds, come back from DuckDB as the value they spell."""
    con = duckdb.connect(":memory:")
    for value in (*NASTY, "a\nb", "\t", "中国", "\x7f", "\x80", "İ", "ß"):
        rule = parse_rule(f"purchase.sku == {_cel_string(value)}")
        sql = compile_rule_sql(rule, "duckdb", inline=True)[0][0]
        literal = sql.split(" = ", 1)[1][:-1]  # "(p.sku COLLATE C = <literal>)"
        assert con.execute(f"SELECT {literal}").fetchone() == (value,), sql
        assert ":" not in literal.replace("chr(58)", "") and "%" not in literal
    for number in (INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX):
        sql = compile_rule_sql(parse_rule(f"purchase.price == {number}"), "duckdb", inline=True)[0][0]
        literal = sql.split(" = ", 1)[1][:-1]
        assert con.execute(f"SELECT {literal}").fetchone() == (number,), sql
        if number in (INT64_MIN, INT64_MAX):
            assert con.execute(f"SELECT typeof({literal})").fetchone() == ("BIGINT",), sql


def _cel_string(value: str) -> str:
    return '"' + "".join(f"\\U{ord(c):08X}" for c in value) + '"'
