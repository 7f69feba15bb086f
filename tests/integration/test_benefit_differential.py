"""Differential test: the benefit amount and its guards mean the same in Python and in SQL.

Generated amount trees (the price paid, fixed amounts, percentages, caps, caps of caps) and prices
sitting on, beside and around their literals (0, one below and above a cap, odd minor units for
percentages, the int64 bound) are evaluated by ``pledge.domain.benefit`` (the reference tree walk
and the compiled closure) and by the database, through ``benefit_sql``, on SQLite, PostgreSQL and
DuckDB: the amount, the price-paid guard both ways, and the currency guard. Tiered benefits (one to
three tiers over instants on and beside their bounds, overlapping or not) add the purchase instant
and the tier's id.
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
    tier_sql,
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
    Tier,
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
def tiers(draw: st.DrawFn) -> tuple[Tier, ...]:
    """One to three tiers over instants 0..100, each ``[start, end)``, overlapping or not."""
    found = []
    for index in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, 90))
        found.append(Tier(f"t{index}", start, start + draw(st.integers(1, 40)), draw(AMOUNTS)))
    return tuple(found)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Benefit, list[tuple[int, str, int]]]:
    tiered = draw(st.booleans())
    benefit = Benefit(None, "CNY", draw(tiers())) if tiered else Benefit(draw(AMOUNTS), "CNY")
    near = [
        v + d for a in benefit.amounts for v in literals(a) for d in (-1, 0, 1) if 0 <= v + d <= INT64_MAX
    ]
    edges = [0, 1, 9_999, 10_000, 10_001, 19_999, 199_900, INT64_MAX, *near]
    prices = draw(st.lists(st.one_of(st.sampled_from(edges), SMALL, MINOR), min_size=1, max_size=12))
    n = len(prices)
    currencies = draw(st.lists(st.sampled_from(["CNY", "USD", "cny", ""]), min_size=n, max_size=n))
    bounds = [b + d for t in benefit.tiers for b in (t.start_us, t.end_us) for d in (-1, 0)]
    instants = draw(
        st.lists(st.one_of(st.sampled_from([0, 50, *bounds]), st.integers(-5, 140)), min_size=n, max_size=n)
    )
    return benefit, list(zip(prices, currencies, instants, strict=True))


Row = tuple[int, bool, bool, bool, bool, str | None]


def reference(benefit: Benefit, price: int, at_us: int) -> tuple[int, str | None]:
    """The amount and tier by definition: the first tier holding the instant, else nothing."""
    if benefit.amount is not None:
        return evaluate(benefit.amount, price), None
    for tier in benefit.tiers:
        if tier.start_us <= at_us < tier.end_us:
            return evaluate(tier.amount, price), tier.id
    return 0, None


def expected(benefit: Benefit, rows: list[tuple[int, str, int]]) -> list[Row]:
    out = []
    for price, currency, at in rows:
        amount, tier = reference(benefit, price, at)
        assert benefit.amount_minor(price, at) == amount
        if benefit.amount is not None:
            assert compile_amount(benefit.amount)(price) == amount
        assert benefit.tier_of(at) == tier
        assert amount >= 0, "never negative"
        assert benefit.within_price(price, at) == (amount <= price)
        assert benefit.grant_minor(price, at) == (amount if 0 < amount <= price else None)
        assert benefit.earns(price, at) == (amount > 0), "never nothing"
        if not benefit.tiered:
            floor = benefit.earns_from_minor
            assert (amount > 0) == (floor is not None and price >= floor)
        if not benefit.may_exceed_price:
            assert amount <= price, "an amount that follows the price never exceeds it"
        held = not benefit.tiered or tier is not None  # a purchase no tier holds earns nothing
        if benefit.constant_minor is not None and held:
            assert amount == benefit.constant_minor
            assert benefit.amount is None or amount == constant_of(benefit.amount)
        if benefit.upper_bound_minor is not None:
            assert amount <= benefit.upper_bound_minor
        granted = 0 < amount <= price
        out.append((amount, amount <= price, amount > price, not benefit.pays_in(currency), granted, tier))
    return out


def select_sql(benefit: Benefit, dialect: str) -> str:
    price, at = "b.price_minor", "b.at_us"
    return (
        f"SELECT {amount_sql(benefit, dialect, price, at)}, "
        f"CASE WHEN {within_price_sql(benefit, dialect, price, at)} THEN 1 ELSE 0 END, "
        f"CASE WHEN {exceeds_price_sql(benefit, dialect, price, at)} THEN 1 ELSE 0 END, "
        f"CASE WHEN {other_currency_sql(benefit, dialect, 'b.currency')} THEN 1 ELSE 0 END, "
        f"CASE WHEN {granted_sql(benefit, dialect, price, at)} THEN 1 ELSE 0 END, "
        f"{tier_sql(benefit, dialect, at)} "
        "FROM benefit_rows b ORDER BY b.i"
    )


def as_tuples(rows: Any) -> list[Row]:
    return [(int(a), bool(w), bool(e), bool(o), bool(g), t) for a, w, e, o, g, t in rows]


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PINNED = [
    (
        Benefit.of(None, 199_900, "CNY"),
        [(0, "CNY", 0), (199_899, "CNY", 0), (199_900, "CNY", 0), (199_901, "USD", 0)],
    ),
    (
        Benefit.of(19_990, None, "CNY"),
        [(0, "CNY", 0), (19_989, "CNY", 0), (19_990, "CNY", 0), (INT64_MAX, "CNY", 0)],
    ),
    (
        Benefit(Capped(Percent(333), 1_000), "CNY"),
        [(1, "CNY", 0), (29_999, "CNY", 0), (30_031, "CNY", 0), (INT64_MAX, "", 0)],
    ),
    (  # the founders' refund, then a goodwill envelope: the contract's example of tiers
        Benefit(
            None,
            "CNY",
            (
                Tier("founders", 0, 10, Capped(PricePaid(), 199_900)),
                Tier("just-missed", 10, 20, Fixed(19_990)),
            ),
        ),
        [
            (199_900, "CNY", 9),
            (199_900, "CNY", 10),
            (10_000, "CNY", 19),
            (199_900, "CNY", 20),
            (300_000, "CNY", -1),
        ],
    ),
]


@SETTINGS
@given(cases())
@example(PINNED[0])
@example(PINNED[1])
@example(PINNED[2])
@example(PINNED[3])
def test_sql_amounts_equal_the_domain_s(
    db_url: str, case: tuple[Benefit, list[tuple[int, str, int]]]
) -> None:
    benefit, rows = case
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE benefit_rows (i INTEGER PRIMARY KEY, price_minor BIGINT NOT NULL, "
                "currency VARCHAR(3) NOT NULL, at_us BIGINT NOT NULL)"
            )
            conn.execute(
                text("INSERT INTO benefit_rows VALUES (:i, :p, :c, :a)"),
                [{"i": i, "p": p, "c": c, "a": a} for i, (p, c, a) in enumerate(rows)],
            )
            got = as_tuples(conn.execute(text(select_sql(benefit, conn.dialect.name))))
            conn.exec_driver_sql("DROP TABLE benefit_rows")
    finally:
        engine.dispose()
    assert got == expected(benefit, rows), (benefit, rows)


@SETTINGS
@given(cases())
@example(PINNED[2])
@example(PINNED[3])
def test_duckdb_amounts_equal_the_domain_s(case: tuple[Benefit, list[tuple[int, str, int]]]) -> None:
    benefit, rows = case
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TABLE benefit_rows (i INTEGER PRIMARY KEY, price_minor BIGINT NOT NULL, "
            "currency VARCHAR NOT NULL, at_us BIGINT NOT NULL)"
        )
        con.executemany(
            "INSERT INTO benefit_rows VALUES (?, ?, ?, ?)", [(i, p, c, a) for i, (p, c, a) in enumerate(rows)]
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
    with pytest.raises(ValueError, match="either one amount or tiers"):
        Benefit(PricePaid(), "CNY", (Tier("a", 0, 1, PricePaid()),))
    with pytest.raises(ValueError, match="no benefit SQL"):
        amount_sql(Benefit.of(None, None, "CNY"), "oracle")
