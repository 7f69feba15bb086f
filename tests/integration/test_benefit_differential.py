"""Differential test: the benefit amount and its guards mean the same in Python and in SQL.

Generated amount trees (the price paid, fixed amounts, percentages, caps, caps of caps) and prices
sitting on, beside and around their literals (0, one below and above a cap, odd minor units for
percentages, the int64 bound) are evaluated by ``pledge.domain.benefit`` (the reference tree walk
and the compiled closure) and by the database, through ``benefit_sql``, on SQLite, PostgreSQL and
DuckDB: the amount, the price-paid guard both ways, and the currency guard.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from pledge.adapters.sqlalchemy.benefit_sql import (
    amount_sql,
    exceeds_price_sql,
    granted_sql,
    other_currency_sql,
    within_price_sql,
)
from pledge.adapters.sqlalchemy.database import make_engine
from pledge.domain.benefit import (
    BASIS_POINTS,
    Amount,
    Benefit,
    Capped,
    Fixed,
    Percent,
    PricePaid,
    compile_amount,
    constant_of,
    evaluate,
)
from pledge.domain.money import INT64_MAX

MINOR = st.integers(0, INT64_MAX)
SMALL = st.integers(0, 10**7)
LEAVES: st.SearchStrategy[Amount] = st.one_of(
    st.just(PricePaid()),
    st.builds(Fixed, st.one_of(SMALL, MINOR)),
    st.builds(
        Percent, st.one_of(st.integers(0, BASIS_POINTS), st.sampled_from([0, 1, 333, 500, 9999, 10000]))
    ),
)
AMOUNTS: st.SearchStrategy[Amount] = st.recursive(
    LEAVES, lambda inner: st.builds(Capped, inner, st.one_of(SMALL, MINOR)), max_leaves=3
)


def literals(amount: Amount) -> list[int]:
    if isinstance(amount, Fixed):
        return [amount.amount_minor]
    if isinstance(amount, Capped):
        return [amount.cap_minor, *literals(amount.amount)]
    return []


@st.composite
def cases(draw: st.DrawFn) -> tuple[Benefit, list[tuple[int, str]]]:
    amount = draw(AMOUNTS)
    near = [v + d for v in literals(amount) for d in (-1, 0, 1) if 0 <= v + d <= INT64_MAX]
    edges = [0, 1, 9_999, 10_000, 10_001, 19_999, 199_900, INT64_MAX, *near]
    prices = draw(st.lists(st.one_of(st.sampled_from(edges), SMALL, MINOR), min_size=1, max_size=12))
    currencies = draw(
        st.lists(st.sampled_from(["CNY", "USD", "cny", ""]), min_size=len(prices), max_size=len(prices))
    )
    return Benefit(amount, "CNY"), list(zip(prices, currencies, strict=True))


Row = tuple[int, bool, bool, bool, bool]


def expected(benefit: Benefit, rows: list[tuple[int, str]]) -> list[Row]:
    out = []
    for price, currency in rows:
        amount = evaluate(benefit.amount, price)
        assert compile_amount(benefit.amount)(price) == benefit.amount_minor(price) == amount
        assert amount >= 0, "never negative"
        assert benefit.within_price(price) == (amount <= price)
        assert benefit.grant_minor(price) == (amount if 0 < amount <= price else None)
        floor = benefit.earns_from_minor
        assert benefit.earns(price) == (amount > 0) == (floor is not None and price >= floor), "never nothing"
        if not benefit.may_exceed_price:
            assert amount <= price, "an amount that follows the price never exceeds it"
        if benefit.constant_minor is not None:
            assert amount == benefit.constant_minor == constant_of(benefit.amount)
        if benefit.upper_bound_minor is not None:
            assert amount <= benefit.upper_bound_minor
        granted = 0 < amount <= price
        out.append((amount, amount <= price, amount > price, not benefit.pays_in(currency), granted))
    return out


def select_sql(benefit: Benefit, dialect: str) -> str:
    return (
        f"SELECT {amount_sql(benefit, dialect, 'b.price_minor')}, "
        f"CASE WHEN {within_price_sql(benefit, dialect, 'b.price_minor')} THEN 1 ELSE 0 END, "
        f"CASE WHEN {exceeds_price_sql(benefit, dialect, 'b.price_minor')} THEN 1 ELSE 0 END, "
        f"CASE WHEN {other_currency_sql(benefit, dialect, 'b.currency')} THEN 1 ELSE 0 END, "
        f"CASE WHEN {granted_sql(benefit, dialect, 'b.price_minor')} THEN 1 ELSE 0 END "
        "FROM benefit_rows b ORDER BY b.i"
    )


def as_tuples(rows: Any) -> list[Row]:
    return [(int(a), bool(w), bool(e), bool(o), bool(g)) for a, w, e, o, g in rows]


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PINNED = [
    (Benefit.of(None, 199_900, "CNY"), [(0, "CNY"), (199_899, "CNY"), (199_900, "CNY"), (199_901, "USD")]),
    (Benefit.of(19_990, None, "CNY"), [(0, "CNY"), (19_989, "CNY"), (19_990, "CNY"), (INT64_MAX, "CNY")]),
    (
        Benefit(Capped(Percent(333), 1_000), "CNY"),
        [(1, "CNY"), (29_999, "CNY"), (30_031, "CNY"), (INT64_MAX, "")],
    ),
]


@SETTINGS
@given(cases())
@example(PINNED[0])
@example(PINNED[1])
@example(PINNED[2])
def test_sql_amounts_equal_the_domain_s(db_url: str, case: tuple[Benefit, list[tuple[int, str]]]) -> None:
    benefit, rows = case
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE benefit_rows (i INTEGER PRIMARY KEY, price_minor BIGINT NOT NULL, "
                "currency VARCHAR(3) NOT NULL)"
            )
            conn.execute(
                text("INSERT INTO benefit_rows VALUES (:i, :p, :c)"),
                [{"i": i, "p": p, "c": c} for i, (p, c) in enumerate(rows)],
            )
            got = as_tuples(conn.execute(text(select_sql(benefit, conn.dialect.name))))
            conn.exec_driver_sql("DROP TABLE benefit_rows")
    finally:
        engine.dispose()
    assert got == expected(benefit, rows), (benefit, rows)


@SETTINGS
@given(cases())
@example(PINNED[2])
def test_duckdb_amounts_equal_the_domain_s(case: tuple[Benefit, list[tuple[int, str]]]) -> None:
    benefit, rows = case
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE benefit_rows (i INTEGER PRIMARY KEY, price_minor BIGINT NOT NULL, "
            "currency VARCHAR NOT NULL)"
        )
        con.executemany(
            "INSERT INTO benefit_rows VALUES (?, ?, ?)", [(i, p, c) for i, (p, c) in enumerate(rows)]
        )
        got = as_tuples(con.execute(select_sql(benefit, "duckdb")).fetchall())
    finally:
        con.close()
    assert got == expected(benefit, rows), (benefit, rows)


def test_the_terms_build_their_benefit_once() -> None:
    assert Benefit.of(None, None, "CNY").amount == PricePaid()
    assert Benefit.of(100, 50, "CNY").constant_minor == 50
    assert Benefit.of(None, 50, "CNY").upper_bound_minor == 50
    assert not Benefit.of(None, 50, "CNY").may_exceed_price
    with pytest.raises(ValueError, match="non-negative"):
        Fixed(-1)
    with pytest.raises(ValueError, match="basis points"):
        Percent(10_001)
    with pytest.raises(ValueError, match="no benefit SQL"):
        amount_sql(Benefit.of(None, None, "CNY"), "oracle")
