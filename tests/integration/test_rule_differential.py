"""Differential test: a rule compiled to SQL agrees with CEL in process, condition by condition.

Generated rules and rows (the same strategies the CEL engine is tested with:
rows sit on, beside and around each rule's literals) are stored in real
``accounts``/``purchases`` tables on SQLite and PostgreSQL; every condition is
then evaluated by the database and by CEL, with bind parameters and with
inline literals.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from pledge.adapters.cel.engine import compile_rule
from pledge.adapters.sqlalchemy.database import make_engine
from pledge.adapters.sqlalchemy.rule_sql import (
    DEFAULT_COLUMNS,
    columns_for,
    compile_condition_sql,
    compile_rule_sql,
    compile_rule_where,
)
from pledge.adapters.sqlalchemy.tables import accounts, metadata, purchases
from pledge.domain.money import INT64_MAX, INT64_MIN
from pledge.domain.records import PURCHASE_STATUSES
from pledge.domain.rules import Node, Rule, Value, evaluate_rule, parse_rule
from pledge.domain.timeutil import parse_instant


def _strategies() -> ModuleType:
    """The rule and row strategies live with the CEL engine tests (tests are not a package)."""
    name = "_rule_strategies"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parents[1] / "unit" / "test_cel_engine.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


S = _strategies()

# Column widths (PostgreSQL enforces them in characters) and constraints of the tables.
WIDTHS = {
    "purchase.purchase_id": 128,
    "purchase.account_id": 128,
    "purchase.sku": 128,
    "purchase.serial": 128,
    "purchase.currency": 3,
    "purchase.status": 16,
    "purchase.channel": 64,
    "account.region": 2,
}
Case = tuple[str, list[Node], list[dict[str, Value]]]


def storable(rows: list[dict[str, Value]]) -> list[dict[str, Value]]:
    """Rows as the tables hold them: widths, known statuses, price >= 0, one account per id, unique ids."""
    out: list[dict[str, Value]] = []
    seen: set[Value] = set()
    account_of: dict[Value, tuple[Value, Value]] = {}
    for original in rows:
        row = dict(original)
        for name, width in WIDTHS.items():
            row[name] = str(row[name])[:width]
        if row["purchase.status"] not in PURCHASE_STATUSES:
            row["purchase.status"] = PURCHASE_STATUSES[
                len(str(row["purchase.status"])) % len(PURCHASE_STATUSES)
            ]
        row["purchase.price"] = max(0, int(row["purchase.price"]))
        row["account.account_id"] = row["purchase.account_id"]
        region, registered = account_of.setdefault(
            row["account.account_id"], (row["account.region"], row["account.registered_at"])
        )
        row["account.region"], row["account.registered_at"] = region, registered
        if row["purchase.purchase_id"] not in seen:
            seen.add(row["purchase.purchase_id"])
            out.append(row)
    return out


def store(engine: Engine, rows: list[dict[str, Value]]) -> None:
    with engine.begin() as conn:
        conn.execute(purchases.delete())
        conn.execute(accounts.delete())
        account_rows = {
            r["account.account_id"]: {
                "account_id": r["account.account_id"],
                "region": r["account.region"],
                "registered_at_us": r["account.registered_at"],
            }
            for r in rows
        }
        conn.execute(accounts.insert(), list(account_rows.values()))
        conn.execute(
            purchases.insert(),
            [
                {
                    "purchase_id": r["purchase.purchase_id"],
                    "account_id": r["purchase.account_id"],
                    "sku": r["purchase.sku"],
                    "serial": r["purchase.serial"],
                    "purchased_at_us": r["purchase.purchased_at"],
                    "price_minor": r["purchase.price"],
                    "currency": r["purchase.currency"],
                    "status": r["purchase.status"],
                    "channel": r["purchase.channel"],
                }
                for r in rows
            ],
        )


FROM = "FROM purchases p JOIN accounts a ON a.account_id = p.account_id"


def run(engine: Engine, sql: str, params: dict[str, Any], *, inline: bool) -> list[Any]:
    with engine.begin() as conn:
        if inline:
            assert params == {}
            # Inline SQL must survive drivers that scan for placeholders; no parameters are passed.
            return list(conn.exec_driver_sql(sql).fetchall())
        return list(conn.execute(text(sql), params).fetchall())


def sql_conditions(engine: Engine, rule: Rule, *, inline: bool) -> dict[str, list[bool]]:
    parts = compile_rule_sql(rule, engine.dialect.name, inline=inline)
    params: dict[str, Any] = {}
    for _, part_params in parts:
        params.update(part_params)
    columns = ", ".join(f"CASE WHEN {sql} THEN 1 ELSE 0 END" for sql, _ in parts)
    rows = run(engine, f"SELECT p.purchase_id, {columns} {FROM}", params, inline=inline)
    return {row[0]: [bool(v) for v in row[1:]] for row in rows}


def sql_qualifying(engine: Engine, rule: Rule, *, inline: bool) -> set[str]:
    where, params = compile_rule_where(rule, engine.dialect.name, inline=inline)
    return {
        row[0] for row in run(engine, f"SELECT p.purchase_id {FROM} WHERE {where}", params, inline=inline)
    }


def check(engine: Engine, case: Case, *, inline: bool) -> None:
    source, _, generated = case
    rows = storable(generated)
    rule = parse_rule(source)
    compiled = compile_rule(rule)
    store(engine, rows)
    in_sql = sql_conditions(engine, rule, inline=inline)
    assert set(in_sql) == {r["purchase.purchase_id"] for r in rows}
    for row in rows:
        expected = compiled.evaluate_conditions(row)
        assert expected == evaluate_rule(rule, row)
        assert in_sql[str(row["purchase.purchase_id"])] == expected, (source, row, inline)
    qualifying = {str(r["purchase.purchase_id"]) for r in rows if compiled.qualifies(r)}
    assert sql_qualifying(engine, rule, inline=inline) == qualifying, (source, inline)


def at(instant: str) -> int:
    return parse_instant(instant)


def base(pid: str, **fields: Value) -> dict[str, Value]:
    row: dict[str, Value] = {
        "purchase.purchase_id": pid,
        "purchase.account_id": f"acct-{pid}",
        "purchase.sku": "mi-1",
        "purchase.serial": "",
        "purchase.purchased_at": at("2011-10-01T12:00:00+08:00"),
        "purchase.price": 199900,
        "purchase.currency": "CNY",
        "purchase.status": "completed",
        "purchase.channel": "",
        "account.account_id": f"acct-{pid}",
        "account.region": "CN",
        "account.registered_at": 0,
    }
    row.update({key.replace("__", "."): value for key, value in fields.items()})
    return row


def fixed(source: str, *rows: dict[str, Value]) -> Case:
    return source, [], list(rows)


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    return engine


def test_sql_agrees_with_cel_on_generated_rules(engine: Engine) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(S.rule_cases(), st.booleans())
    # Text order is code-point order, never numeric (SQLite affinity) nor UTF-16.
    @example(
        fixed(
            'purchase.sku > "9" && purchase.sku in ["1", "01"]',
            base("1", purchase__sku="10"),
            base("2", purchase__sku="1"),
            base("3", purchase__sku="01"),
            base("4", purchase__sku="9"),
        ),
        False,
    )
    @example(
        fixed(
            'purchase.sku < "\\uffff" && purchase.serial >= "e\\u0301"',
            base("1", purchase__sku="😀"),
            base("2", purchase__sku="\ue000", purchase__serial="é"),
            base("3", purchase__serial="f"),
        ),
        True,
    )
    @example(
        fixed(
            "purchase.price > -9223372036854775808 && purchase.price != 9223372036854775807 && "
            "account.registered_at < timestamp('0001-01-01T00:00:00Z')",
            base("1", purchase__price=INT64_MAX),
            base("2", purchase__price=0, account__registered_at=INT64_MIN),
        ),
        True,
    )
    @example(
        fixed(
            'purchase.sku == "it\'s" || purchase.sku in ["a%b", \':r0\', "\\\\"]',
            base("1", purchase__sku="a%b"),
            base("2", purchase__sku=":r0"),
            base("3", purchase__sku="\\"),
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
        check(engine, case, inline=inline)

    differential()


def test_founders_rule_in_sql(engine: Engine) -> None:
    rule = parse_rule(
        'purchase.sku == "mi-1" && account.region == "CN" && purchase.status == "completed" && '
        'purchase.purchased_at <= timestamp("2011-12-07T23:59:59+08:00")'
    )
    rows = [
        base("last-second", purchase__purchased_at=at("2011-12-07T23:59:59+08:00")),
        base("after-midnight", purchase__purchased_at=at("2011-12-07T16:30:00Z")),
        base("macau", account__region="MO"),
        base("returned", purchase__status="returned"),
    ]
    store(engine, rows)
    for inline in (False, True):
        assert sql_qualifying(engine, rule, inline=inline) == {"last-second"}
        assert sql_conditions(engine, rule, inline=inline)["after-midnight"] == [True, True, True, False]


def test_a_rule_without_conditions_selects_everything(engine: Engine) -> None:
    store(engine, [base("1"), base("2")])
    assert compile_rule_sql(parse_rule("true"), engine.dialect.name) == []
    assert sql_qualifying(engine, parse_rule(""), inline=False) == {"1", "2"}


def test_sql_text_per_dialect() -> None:
    node = parse_rule('account.region == "CN"').node
    assert node is not None
    assert compile_condition_sql(node, "sqlite") == ("(a.region = CAST(:r0 AS TEXT))", {"r0": "CN"})
    assert compile_condition_sql(node, "postgresql", prefix="c1_") == (
        '(a.region COLLATE "C" = CAST(:c1_0 AS TEXT) COLLATE "C")',
        {"c1_0": "CN"},
    )
    assert compile_condition_sql(node, "postgresql", inline=True) == (
        '(a.region COLLATE "C" = CAST(E\'CN\' AS TEXT) COLLATE "C")',
        {},
    )
    custom = columns_for("pp", "aa")
    assert compile_condition_sql(node, "sqlite", custom, inline=True) == (
        "(aa.region = CAST('CN' AS TEXT))",
        {},
    )
    assert DEFAULT_COLUMNS["purchase.purchased_at"] == "p.purchased_at_us"
    assert DEFAULT_COLUMNS["purchase.price"] == "p.price_minor"


def test_unknown_dialect_or_unmapped_field_is_refused() -> None:
    node = parse_rule('account.region == "CN"').node
    assert node is not None
    with pytest.raises(ValueError, match="dialect"):
        compile_condition_sql(node, "oracle")
    with pytest.raises(ValueError, match=r"account\.region"):
        compile_condition_sql(node, "sqlite", {"purchase.sku": "p.sku"})
