"""The benefit amount and its guards (``pledge.domain.benefit``) rendered as SQL.

The one Python evaluation is ``Benefit.amount_minor``; this is its one SQL rendering, for the
batch paths (counting, summing and inserting grants in single statements). Both are held equal
by ``tests/integration/test_benefit_differential.py`` on SQLite, PostgreSQL and DuckDB.

What makes them agree: every value is a 64-bit integer of minor units (prices are ``NOT NULL``
and never negative), literals come from our own terms and are spelled by the rule dialects
(``rule_sql_dialects``: ``INT64_MIN`` and all), a cap is a ``CASE`` (SQLite's two-argument
``min`` and PostgreSQL's ``LEAST`` differ in name, not in meaning), and a percentage is computed
as ``(p div 10000) * bp + (p mod 10000) * bp div 10000``: integer division of non-negative
integers truncates, which is Python's floor, and no product can overflow. Integer division is
``/`` on SQLite and PostgreSQL, ``//`` on DuckDB (whose ``/`` divides as floating point).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pledge.adapters.sqlalchemy.rule_sql_dialects import DIALECTS
from pledge.domain.benefit import BASIS_POINTS, Amount, Benefit, Capped, Fixed, Percent, PricePaid

__all__ = [
    "BENEFIT_DIALECTS",
    "amount_sql",
    "earns_nothing_sql",
    "exceeds_price_sql",
    "granted_sql",
    "other_currency_sql",
    "tier_sql",
    "within_price_sql",
]

# Integer division and remainder of non-negative BIGINTs, per engine.
_DIVISION: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {"sqlite": ("/", "%"), "postgresql": ("/", "%"), "duckdb": ("//", "%"), "spark": ("div", "%")}
)
BENEFIT_DIALECTS: Final = tuple(_DIVISION)
_AT: Final = "c.purchased_at_us"  # the purchase instant, where tiers choose the amount


def _render(amount: Amount, dialect: str, price: str) -> str:
    int_literal = DIALECTS[dialect].int_literal
    if isinstance(amount, PricePaid):
        return price
    if isinstance(amount, Fixed):
        return int_literal(amount.amount_minor)
    if isinstance(amount, Percent):
        div, mod = _DIVISION[dialect]
        bp, whole = int_literal(amount.basis_points), int_literal(BASIS_POINTS)
        return f"(({price} {div} {whole}) * {bp} + ({price} {mod} {whole}) * {bp} {div} {whole})"
    if isinstance(amount, Capped):
        if isinstance(amount.amount, Fixed):  # a constant: folded, as the Python closure does
            return int_literal(min(amount.amount.amount_minor, amount.cap_minor))
        inner, cap = _render(amount.amount, dialect, price), int_literal(amount.cap_minor)
        return f"(CASE WHEN {inner} > {cap} THEN {cap} ELSE {inner} END)"
    raise TypeError(f"not an amount: {amount!r}")


def _checked(dialect: str) -> str:
    if dialect not in _DIVISION:
        raise ValueError(f"no benefit SQL for dialect {dialect!r} (known: {', '.join(_DIVISION)})")
    return dialect


def amount_sql(benefit: Benefit, dialect: str, price: str = "c.price_minor", at: str = _AT) -> str:
    """``Benefit.amount_minor`` over the columns ``price`` and ``at`` (the purchase instant), as an SQL
    integer expression. Tiers are a ``CASE`` over ``at``, in the tiers' order: the first that holds
    the purchase decides, and none earns 0."""
    dialect = _checked(dialect)
    if benefit.amount is not None:
        return _render(benefit.amount, dialect, price)
    int_literal = DIALECTS[dialect].int_literal
    arms = " ".join(
        f"WHEN {at} >= {int_literal(t.start_us)} AND {at} < {int_literal(t.end_us)} "
        f"THEN {_render(t.amount, dialect, price)}"
        for t in benefit.tiers
    )
    return f"(CASE {arms} ELSE 0 END)"


def tier_sql(benefit: Benefit, dialect: str, at: str = _AT) -> str:
    """``Benefit.tier_of`` over the column ``at``: the tier's id, or NULL (untiered, or no tier)."""
    d = DIALECTS[_checked(dialect)]
    if not benefit.tiers:
        return "NULL"
    arms = " ".join(
        f"WHEN {at} >= {d.int_literal(t.start_us)} AND {at} < {d.int_literal(t.end_us)} "
        f"THEN {d.string_literal(t.id)}"
        for t in benefit.tiers
    )
    return f"(CASE {arms} ELSE NULL END)"


def within_price_sql(benefit: Benefit, dialect: str, price: str = "c.price_minor", at: str = _AT) -> str:
    """``Benefit.within_price``: the amount does not exceed the price paid (a boolean)."""
    if not benefit.may_exceed_price:  # the price paid, a percentage of it, capped: never above it
        return "(1 = 1)"
    return f"({amount_sql(benefit, dialect, price, at)} <= {price})"


def exceeds_price_sql(benefit: Benefit, dialect: str, price: str = "c.price_minor", at: str = _AT) -> str:
    """``not Benefit.within_price`` (no nulls exist, so ``NOT`` is two-valued)."""
    return f"(NOT {within_price_sql(benefit, dialect, price, at)})"


def earns_sql(benefit: Benefit, dialect: str, price: str = "c.price_minor", at: str = _AT) -> str:
    """``Benefit.earns``: the price earns at least one minor unit, as ``price >= earns_from_minor``
    (every amount is non-decreasing in the price); with tiers, the tier's amount is above 0."""
    if benefit.tiers:
        return f"({amount_sql(benefit, dialect, price, at)} > 0)"
    floor = benefit.earns_from_minor
    if floor is None:
        return "(1 = 0)"
    if floor <= 0:
        return "(1 = 1)"
    return f"({price} >= {DIALECTS[_checked(dialect)].int_literal(floor)})"


def earns_nothing_sql(benefit: Benefit, dialect: str, price: str = "c.price_minor", at: str = _AT) -> str:
    """``not Benefit.earns``."""
    return f"(NOT {earns_sql(benefit, dialect, price, at)})"


def granted_sql(benefit: Benefit, dialect: str, price: str = "c.price_minor", at: str = _AT) -> str:
    """``Benefit.grant_minor(price, at) is not None``: within the price paid and earning something."""
    return f"({within_price_sql(benefit, dialect, price, at)} AND {earns_sql(benefit, dialect, price, at)})"


def other_currency_sql(benefit: Benefit, dialect: str, currency: str = "c.currency") -> str:
    """``not Benefit.pays_in``: the purchase is in another currency than the grant."""
    d = DIALECTS[_checked(dialect)]
    literal = f"CAST({d.string_literal(benefit.currency)} AS {d.text_type}){d.collate}"
    return f"({currency}{d.collate} <> {literal})"
