"""Tiers of a cashback campaign: ordered purchase windows, each with its own amount (ADR 34).

The first tier whose window holds a purchase decides what it earns, e.g. the full refund for the
founders' window and a goodwill envelope for the weeks after. The rule and the limits apply to
every tier alike; the budget is shared. The tiers' windows together must form one unbroken span of
dates: that span is the campaign's purchase window, so every purchase the window takes has a tier
(a gap would be a window that pays nothing, which no operator means to write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pledge.domain.benefit import MAX_TIERS, Benefit, Tier, amount_of
from pledge.domain.errors import InputError
from pledge.domain.fields import money_field, slug_field
from pledge.domain.money import format_minor
from pledge.domain.timeutil import LocalDateWindow, parse_date

PRICE_PAID = "price_paid"
_CODE = "invalid_campaign"


@dataclass(frozen=True, slots=True)
class TierTerms:
    """One tier as the terms state it."""

    id: str
    window: LocalDateWindow
    fixed_amount_minor: int | None  # None: the price paid
    max_amount_minor: int | None

    def canonical(self, currency: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "purchased": {"from": self.window.first.isoformat(), "to": self.window.last.isoformat()},
            "amount": PRICE_PAID
            if self.fixed_amount_minor is None
            else format_minor(self.fixed_amount_minor, currency),
            "max_amount": None
            if self.max_amount_minor is None
            else format_minor(self.max_amount_minor, currency),
        }

    def tier(self) -> Tier:
        amount = amount_of(self.fixed_amount_minor, self.max_amount_minor)
        return Tier(self.id, self.window.start_us, self.window.end_us, amount)


def tiered_benefit(tiers: Sequence[TierTerms], currency: str) -> Benefit:
    return Benefit(None, currency, tuple(t.tier() for t in tiers))


def parse_tiers(value: object, currency: str, tz_name: str) -> tuple[TierTerms, ...]:
    """``tiers:`` of a campaign file, each error naming ``tiers[i].field``."""
    if not isinstance(value, list) or not value:
        raise InputError("tiers: a list of at least one tier is required", param="tiers", code=_CODE)
    if len(value) > MAX_TIERS:
        raise InputError(f"tiers: at most {MAX_TIERS} tiers, not {len(value)}", param="tiers", code=_CODE)
    tiers: list[TierTerms] = []
    for index, item in enumerate(value):
        where = f"tiers[{index}]"
        if not isinstance(item, Mapping):
            raise InputError(
                f"{where}: a mapping {{id, purchased, amount}} is required", param=where, code=_CODE
            )
        tier_id = slug_field(item.get("id"), f"{where}.id", code=_CODE)
        if any(t.id == tier_id for t in tiers):
            raise InputError(f"{where}.id: {tier_id!r} names two tiers", param=f"{where}.id", code=_CODE)
        purchased = item.get("purchased")
        if not isinstance(purchased, Mapping):
            raise InputError(
                f"{where}.purchased: a window {{from, to}} of local dates is required",
                param=f"{where}.purchased",
                code=_CODE,
            )
        window = LocalDateWindow(
            parse_date(str(purchased.get("from")), param=f"{where}.purchased.from"),
            parse_date(str(purchased.get("to")), param=f"{where}.purchased.to"),
            tz_name,
        )
        amount = item.get("amount", PRICE_PAID)
        fixed = None if amount == PRICE_PAID else money_field(amount, currency, f"{where}.amount")
        cap_value = item.get("max_amount")
        cap = None if cap_value is None else money_field(cap_value, currency, f"{where}.max_amount")
        tiers.append(TierTerms(tier_id, window, fixed, cap))
    _check_unbroken(tiers)
    return tuple(tiers)


def _check_unbroken(tiers: Sequence[TierTerms]) -> None:
    """Refuse a day between the first and the last tier's dates that no tier covers."""
    ordered = sorted(tiers, key=lambda t: t.window.first)
    covered_to = ordered[0].window.last
    for tier in ordered[1:]:
        if tier.window.first > covered_to + timedelta(days=1):
            gap_from, gap_to = covered_to + timedelta(days=1), tier.window.first - timedelta(days=1)
            raise InputError(
                f"tiers: no tier covers {gap_from.isoformat()} to {gap_to.isoformat()}; the tiers' windows "
                "must form one unbroken span (a purchase in a gap would qualify for nothing: "
                "write a second campaign instead)",
                param="tiers",
                code=_CODE,
            )
        covered_to = max(covered_to, tier.window.last)


def span_of(tiers: Sequence[TierTerms], tz_name: str) -> LocalDateWindow:
    """The campaign's purchase window: from the earliest tier's first date to the latest's last."""
    return LocalDateWindow(min(t.window.first for t in tiers), max(t.window.last for t in tiers), tz_name)


def widened_tiers(tiers: Sequence[TierTerms], days: int) -> tuple[TierTerms, ...]:
    """The tiers with ``days`` added before the earliest and after the latest (``--widen``): the
    purchases a wider window would add earn the amount of the tier at that edge."""
    first = min(t.window.first for t in tiers)
    last = max(t.window.last for t in tiers)
    widened = []
    for t in tiers:
        start = t.window.first - timedelta(days=days) if t.window.first == first else t.window.first
        end = t.window.last + timedelta(days=days) if t.window.last == last else t.window.last
        widened.append(
            TierTerms(
                t.id, LocalDateWindow(start, end, t.window.tz_name), t.fixed_amount_minor, t.max_amount_minor
            )
        )
    return tuple(widened)
