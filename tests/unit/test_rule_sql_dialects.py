"""The SQL text each dialect emits, checked by text: exact SQL for representative rules, literals.

Spark SQL cannot run here, so its dialect is verified by text only: golden SQL,
and a reader of the literal shapes it emits (``'run' || chr(n) || …``) that
checks, for any string, that the text reads back as the value under every
Spark setting — no backslash (``spark.sql.parser.escapedStringLiterals`` on or
off), no quote inside a run (``''`` is two chained literals in Spark 3.x),
no ``${`` (variable substitution), no ``:`` or ``%`` (placeholder scanners).
DuckDB's text is also executed by ``tests/integration/test_rule_duckdb.py``.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.adapters.sqlalchemy.rule_sql import DIALECTS, compile_condition_sql, compile_rule_where
from pledge.domain.money import INT64_MAX, INT64_MIN
from pledge.domain.rules import Compare, Field, Literal, Node, parse_rule

FOUNDERS = (
    'purchase.sku == "mi-1" && account.region == "CN" && purchase.status == "completed" && '
    'purchase.purchased_at <= timestamp("2011-12-07T23:59:59+08:00")'
)
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def node(source: str) -> Node:
    parsed = parse_rule(source).node
    assert parsed is not None
    return parsed


def sku_equals(value: str) -> Node:
    return Compare("==", Field("purchase.sku", "string"), Literal(value, "string"))


def spark_literal(sql: str) -> str:
    """The value Spark reads from ``(p.sku COLLATE UTF8_BINARY = CAST(<expr> AS STRING) COLLATE …)``."""
    match = re.fullmatch(
        r"\(p\.sku COLLATE UTF8_BINARY = CAST\((.*) AS STRING\) COLLATE UTF8_BINARY\)", sql, re.DOTALL
    )
    assert match, sql
    expr, value, at = match.group(1), [], 0
    while True:
        if expr.startswith("chr(", at):
            close = expr.index(")", at)
            code = int(expr[at + 4 : close])
            assert 0 < code < 128, expr  # Spark's chr(n) is chr(n % 256): ASCII only
            value.append(chr(code))
            at = close + 1
        else:
            assert expr[at] == "'", expr
            close = expr.index("'", at + 1)  # a run never holds a quote, so the next one closes it
            run = expr[at + 1 : close]
            assert not set(run) & set("\\$:%"), expr  # means the same under every Spark setting
            value.append(run)
            at = close + 1
        if at == len(expr):
            break
        assert expr.startswith(" || ", at), expr  # never two adjacent literals (Spark chains them)
        at += 4
    return "".join(value)


def test_founders_rule_in_spark_sql() -> None:
    where, params = compile_rule_where(parse_rule(FOUNDERS), "spark", inline=True)
    assert params == {}
    assert where == (
        "((p.sku COLLATE UTF8_BINARY = CAST('mi-1' AS STRING) COLLATE UTF8_BINARY) AND "
        "(a.region COLLATE UTF8_BINARY = CAST('CN' AS STRING) COLLATE UTF8_BINARY) AND "
        "(p.status COLLATE UTF8_BINARY = CAST('completed' AS STRING) COLLATE UTF8_BINARY) AND "
        "(p.purchased_at_us <= 1323273599000000L))"
    )


def test_founders_rule_in_duckdb_sql() -> None:
    where, params = compile_rule_where(parse_rule(FOUNDERS), "duckdb", inline=True)
    assert params == {}
    assert where == (
        "((p.sku COLLATE C = CAST('mi-1' AS VARCHAR) COLLATE C) AND "
        "(a.region COLLATE C = CAST('CN' AS VARCHAR) COLLATE C) AND "
        "(p.status COLLATE C = CAST('completed' AS VARCHAR) COLLATE C) AND "
        "(p.purchased_at_us <= 1323273599000000))"
    )


def test_bind_parameters_are_named_markers() -> None:
    rule = node('purchase.sku in ["a", "b"] && !(purchase.price < 100)')
    assert compile_condition_sql(rule, "spark", prefix="c0_") == (
        "((p.sku COLLATE UTF8_BINARY IN (CAST(:c0_0 AS STRING) COLLATE UTF8_BINARY, "
        "CAST(:c0_1 AS STRING) COLLATE UTF8_BINARY)) AND (NOT (p.price_minor < CAST(:c0_2 AS BIGINT))))",
        {"c0_0": "a", "c0_1": "b", "c0_2": 100},
    )
    assert compile_condition_sql(rule, "duckdb")[0] == (
        "((p.sku COLLATE C IN (CAST(:r0 AS VARCHAR) COLLATE C, CAST(:r1 AS VARCHAR) COLLATE C)) AND "
        "(NOT (p.price_minor < CAST(:r2 AS BIGINT))))"
    )


def test_fields_not_and_empty_lists() -> None:
    rule = node(
        "!(purchase.account_id != account.account_id) || purchase.sku in [] || !!(purchase.price >= 0)"
    )
    assert compile_condition_sql(rule, "spark", inline=True)[0] == (
        "((NOT (p.account_id COLLATE UTF8_BINARY <> a.account_id COLLATE UTF8_BINARY)) OR (1 = 0) OR "
        "(NOT (NOT (p.price_minor >= 0L))))"
    )


@pytest.mark.parametrize(
    ("value", "spark", "duckdb"),
    [
        ("it's", "'it' || chr(39) || 's'", "'it''s'"),
        ("a\\b", "'a' || chr(92) || 'b'", "'a\\b'"),
        ("\\'", "chr(92) || chr(39)", "'\\'''"),
        ("''", "chr(39) || chr(39)", "''''''"),
        ("${spark.app.name}", "chr(36) || '{spark.app.name}'", "'${spark.app.name}'"),
        (":r0 50%", "chr(58) || 'r0 50' || chr(37)", "chr(58) || 'r0 50' || chr(37)"),
        ("", "''", "''"),
        ("中国😀\U0010ffff", "'中国😀\U0010ffff'", "'中国😀\U0010ffff'"),
        ("a\nb", "'a\nb'", "'a\nb'"),
    ],
)
def test_string_literals(value: str, spark: str, duckdb: str) -> None:
    assert DIALECTS["spark"].string_literal(value) == spark
    assert DIALECTS["duckdb"].string_literal(value) == duckdb
    sql, _ = compile_condition_sql(sku_equals(value), "spark", inline=True)
    assert spark_literal(sql) == value


@pytest.mark.parametrize(
    ("value", "spark", "plain"),
    [
        (0, "0L", "0"),
        (199900, "199900L", "199900"),
        (-1, "(-1L)", "(-1)"),
        (INT64_MAX, "9223372036854775807L", "9223372036854775807"),
        (INT64_MIN + 1, "(-9223372036854775807L)", "(-9223372036854775807)"),
        # -9223372036854775808 is minus a literal too big for BIGINT: never written that way.
        (INT64_MIN, "(-9223372036854775807L - 1L)", "(-9223372036854775807 - 1)"),
    ],
)
def test_int64_literals(value: int, spark: str, plain: str) -> None:
    assert DIALECTS["spark"].int_literal(value) == spark
    for name in ("sqlite", "postgresql", "duckdb"):
        assert DIALECTS[name].int_literal(value) == plain
    in_list = node(
        f"purchase.price in [{value}] && account.registered_at > timestamp('1970-01-01T00:00:00Z')"
    )
    assert compile_condition_sql(in_list, "spark", inline=True)[0] == (
        f"((p.price_minor IN ({spark})) AND (a.registered_at_us > 0L))"
    )


@given(any_text)
def test_spark_string_literals_read_back_under_every_setting(value: str) -> None:
    sql, params = compile_condition_sql(sku_equals(value), "spark", inline=True)
    assert params == {}
    assert spark_literal(sql) == value


@given(any_text)
def test_no_inline_literal_contains_a_placeholder_character(value: str) -> None:
    for name in DIALECTS:
        sql, _ = compile_condition_sql(sku_equals(value), name, inline=True)
        assert ":" not in sql and "%" not in sql, (name, sql)


def test_spark_and_duckdb_are_known_dialects() -> None:
    assert set(DIALECTS) == {"sqlite", "postgresql", "duckdb", "spark"}
