"""Payouts: how an opened envelope becomes transfers a payment rail accepts.

Three things live here, all pure and in integer minor units:

* **Rail limits** (:class:`RailLimits`): what one transfer may carry and what
  one account, and the merchant, may receive in one local day.
* **The plan** (:func:`plan_payout`): a grant split into transfers over local
  days, deterministically, summing to the grant exactly.
* **Request ids** (:func:`request_id`): the client-chosen idempotency key sent to
  the provider (WeChat's ``out_bill_no``, the wallet's ``credit_id``), derived
  from the grant, the transfer's sequence and its attempt.

The transfer state machine is in :mod:`pledge.domain.payout_transfers`.

The split algorithm (ADR 0024), fewest local days first, then fewest transfers:

1. ``part_cap = min(max_per_transfer, max_per_account_day)``: no transfer can be
   larger than what an account may receive in a day.
2. ``day_cap = min(max_per_account_day, max_count_per_account_day * part_cap)``.
3. ``days = ceil(amount / day_cap)``; the amount is cut into ``days`` day totals
   that differ by at most one minor unit, the larger ones first.
4. Each day total is cut into ``ceil(day_total / part_cap)`` parts, again equal
   to one minor unit, the larger ones first.

1999.00 CNY on WeChat (200.00 per transfer, 1000.00 and 10 a day) is two days
of 999.50, each five transfers of 199.90. Every part is at least the rail's
minimum as long as ``part_cap >= 2 * min_per_transfer`` (checked): a part of a
split day total is more than half of ``part_cap``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from pledge.domain.errors import InputError, RefusedError
from pledge.domain.fields import money_field
from pledge.domain.money import ceil_div, format_minor
from pledge.domain.timeutil import local_date, zone

WALLET: Final = "wallet"
WECHAT_TRANSFER: Final = "wechat_transfer"
RAILS: Final = (WALLET, WECHAT_TRANSFER)

MAX_TRANSFERS_PER_GRANT: Final = 999  # three digits in the request id
MAX_ATTEMPTS: Final = 99  # two digits; past that a person must look at the transfer


@dataclass(frozen=True, slots=True)
class RailLimits:
    """What a rail accepts, in minor units; ``None`` means no limit.

    ``max_merchant_day`` is not a property of one grant's plan: the dispatcher
    defers a due transfer when the merchant's day is full (:func:`has_day_room`).
    """

    min_per_transfer: int = 1
    max_per_transfer: int | None = None
    max_per_account_day: int | None = None
    max_count_per_account_day: int | None = None
    max_merchant_day: int | None = None

    def __post_init__(self) -> None:
        if self.min_per_transfer < 1:
            raise InputError("payout.split: the minimum per transfer must be positive", param="payout.split")
        for name in (
            "max_per_transfer",
            "max_per_account_day",
            "max_count_per_account_day",
            "max_merchant_day",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"payout.split.{name}: must be positive", param=f"payout.split.{name}")
        cap = self.part_cap
        if cap is not None and cap < 2 * self.min_per_transfer:
            # Below this, an even split could leave a part under the minimum.
            raise InputError(
                "payout.split: the largest transfer (the smaller of max_per_transfer and "
                "max_per_account_day) must be at least twice the rail's minimum per transfer",
                param="payout.split",
            )

    @property
    def part_cap(self) -> int | None:
        caps = [c for c in (self.max_per_transfer, self.max_per_account_day) if c is not None]
        return min(caps) if caps else None

    @property
    def day_cap(self) -> int | None:
        caps = [self.max_per_account_day] if self.max_per_account_day is not None else []
        part_cap = self.part_cap
        if self.max_count_per_account_day is not None and part_cap is not None:
            caps.append(self.max_count_per_account_day * part_cap)
        return min(caps) if caps else None


# WeChat merchant transfer to balance, as documented for the cash-marketing scene:
# 0.10-200.00 per transfer, 1000.00 and 10 transfers per user per day (in fen).
WECHAT_TRANSFER_LIMITS: Final = RailLimits(
    min_per_transfer=10,
    max_per_transfer=20_000,
    max_per_account_day=100_000,
    max_count_per_account_day=10,
)
# Our own wallet: one credit per grant, whatever its size.
WALLET_LIMITS: Final = RailLimits()


def default_limits(rail: str) -> RailLimits:
    if rail == WECHAT_TRANSFER:
        return WECHAT_TRANSFER_LIMITS
    if rail == WALLET:
        return WALLET_LIMITS
    raise InputError(f"payout.rail: {rail!r} is not a rail ({', '.join(RAILS)})", param="payout.rail")


def limits_with(
    base: RailLimits,
    *,
    max_per_transfer: int | None = None,
    max_per_account_day: int | None = None,
    max_count_per_account_day: int | None = None,
    max_merchant_day: int | None = None,
) -> RailLimits:
    """The rail's limits with a campaign's ``payout.split`` values in place of its defaults."""
    return RailLimits(
        min_per_transfer=base.min_per_transfer,
        max_per_transfer=max_per_transfer if max_per_transfer is not None else base.max_per_transfer,
        max_per_account_day=max_per_account_day
        if max_per_account_day is not None
        else base.max_per_account_day,
        max_count_per_account_day=max_count_per_account_day
        if max_count_per_account_day is not None
        else base.max_count_per_account_day,
        max_merchant_day=max_merchant_day if max_merchant_day is not None else base.max_merchant_day,
    )


@dataclass(frozen=True, slots=True)
class PlannedTransfer:
    seq: int  # 1-based, in the order the transfers are due
    amount_minor: int
    due_on: date  # the local date (campaign zone) from which it may be sent


@dataclass(frozen=True, slots=True)
class PayoutPlan:
    grant_id: str
    rail: str
    currency: str
    amount_minor: int
    transfers: tuple[PlannedTransfer, ...]

    @property
    def days(self) -> int:
        return len({t.due_on for t in self.transfers})


def _even_parts(total: int, count: int) -> list[int]:
    """``total`` in ``count`` parts differing by at most 1, the larger ones first."""
    base, remainder = divmod(total, count)
    return [base + 1 if i < remainder else base for i in range(count)]


def first_payout_day(opened_at_us: int, timezone: str) -> date:
    """The local date (campaign zone) an opened envelope's first transfers are due."""
    return local_date(opened_at_us, zone(timezone))


def plan_payout(
    *,
    grant_id: str,
    rail: str,
    amount_minor: int,
    currency: str,
    limits: RailLimits,
    first_day: date,
) -> PayoutPlan:
    """Split a grant into transfers over local days from ``first_day`` (see the module doc)."""
    if amount_minor < limits.min_per_transfer:
        raise RefusedError(
            f"grant {grant_id}: {format_minor(amount_minor, currency)} is below the {rail} rail's minimum "
            f"transfer of {format_minor(limits.min_per_transfer, currency)}",
            code="payout_below_rail_minimum",
            param="amount",
        )
    day_cap = limits.day_cap or amount_minor
    part_cap = limits.part_cap or amount_minor
    days = ceil_div(amount_minor, day_cap)
    # Day totals take two values only (base and base + 1), so the count is known before building.
    base, larger_days = divmod(amount_minor, days)
    count = larger_days * ceil_div(base + 1, part_cap) + (days - larger_days) * ceil_div(base, part_cap)
    if count > MAX_TRANSFERS_PER_GRANT:
        raise RefusedError(
            f"grant {grant_id}: {format_minor(amount_minor, currency)} needs {count} transfers on the "
            f"{rail} rail, more than {MAX_TRANSFERS_PER_GRANT}; raise payout.split or choose another rail",
            code="payout_too_many_transfers",
            param="payout.split",
        )
    transfers: list[PlannedTransfer] = []
    for day_index, day_total in enumerate(_even_parts(amount_minor, days)):
        due_on = first_day + timedelta(days=day_index)
        for part in _even_parts(day_total, ceil_div(day_total, part_cap)):
            transfers.append(PlannedTransfer(seq=len(transfers) + 1, amount_minor=part, due_on=due_on))
    return PayoutPlan(grant_id, rail, currency, amount_minor, tuple(transfers))


def has_day_room(
    limits: RailLimits,
    *,
    account_amount_today: int,
    account_count_today: int,
    merchant_amount_today: int,
    amount_minor: int,
) -> bool:
    """Whether one more transfer fits today's account and merchant limits.

    A plan respects the account limits for its own grant; an account with two
    grants, or a merchant paying a million, needs this check when dispatching.
    """
    checks = (
        (limits.max_per_account_day, account_amount_today + amount_minor),
        (limits.max_count_per_account_day, account_count_today + 1),
        (limits.max_merchant_day, merchant_amount_today + amount_minor),
    )
    return all(cap is None or used <= cap for cap, used in checks)


_GRANT_ID = re.compile(r"^gr_([0-9a-f]{24})$")


def request_id(grant_id: str, seq: int, attempt: int) -> str:
    """The idempotency key of one attempt at one transfer: at most 32 letters and digits.

    WeChat's ``out_bill_no`` allows only ``[0-9A-Za-z]{1,32}``. A grant id of
    Pledge's own form (``gr_`` + 24 hex) is kept readable (``gr`` + hex), so a
    bill number on a statement leads straight to its grant; any other id is
    hashed. ``seq`` (3 digits) and ``attempt`` (2 digits) end it. The same
    arguments always give the same id: a retry resends the same key, and a new
    key exists only for a new attempt, minted after a definitive failure.
    """
    if not 1 <= seq <= MAX_TRANSFERS_PER_GRANT:
        raise InputError(f"transfer sequence {seq} is outside 1..{MAX_TRANSFERS_PER_GRANT}", param="seq")
    if not 1 <= attempt <= MAX_ATTEMPTS:
        raise RefusedError(
            f"grant {grant_id}, transfer {seq}: attempt {attempt} is outside 1..{MAX_ATTEMPTS}",
            code="payout_too_many_attempts",
            param="attempt",
        )
    match = _GRANT_ID.match(grant_id)
    stem = f"gr{match.group(1)}" if match else "gx" + hashlib.sha256(grant_id.encode()).hexdigest()[:24]
    return f"{stem}{seq:03d}{attempt:02d}"


_REQUEST_ID = re.compile(r"^gr([0-9a-f]{24})([0-9]{3})([0-9]{2})$")


def parse_request_id(request: str) -> tuple[str, int, int] | None:
    """``(grant_id, seq, attempt)`` of a request id of Pledge's own grant-id form, else None."""
    match = _REQUEST_ID.match(request)
    if match is None:
        return None
    return f"gr_{match.group(1)}", int(match.group(2)), int(match.group(3))


def transfer_id(grant_id: str, seq: int) -> str:
    """Our id of a transfer, across its attempts; three digits, so ids sort in plan order."""
    return f"{grant_id}/{seq:03d}"


_SPLIT_MONEY: Final = ("max_per_transfer", "max_per_account_day")
_SPLIT_COUNT: Final = "max_count_per_account_day"


@dataclass(frozen=True, slots=True)
class PayoutTerms:
    """A campaign's ``payout.rail`` and ``payout.split``, as written (split values in minor units)."""

    rail: str = WALLET
    split: tuple[tuple[str, int], ...] = ()  # only the keys the file names, in a fixed order
    reinstate_review_above_minor: int | None = None  # re-opening more needs two persons (ADR 26)

    @property
    def limits(self) -> RailLimits:
        return limits_with(default_limits(self.rail), **dict(self.split))

    def canonical(self, currency: str) -> dict[str, Any]:
        """The keys as a file writes them; empty for the defaults, so older terms keep their hash."""
        document: dict[str, Any] = {}
        if self.rail != WALLET or self.split:
            document["rail"] = self.rail
        if self.split:
            document["split"] = {
                key: value if key == _SPLIT_COUNT else format_minor(value, currency)
                for key, value in self.split
            }
        if self.reinstate_review_above_minor is not None:
            document["reinstate_review_above"] = format_minor(self.reinstate_review_above_minor, currency)
        return document


DEFAULT_PAYOUT_TERMS: Final = PayoutTerms()  # the wallet, with its own limits


def parse_payout_terms(payout: Mapping[str, Any], currency: str) -> PayoutTerms:
    """``payout.rail``, ``payout.split`` and ``payout.reinstate_review_above`` of a campaign file
    (the schema has refused unknown keys)."""
    rail = payout.get("rail", WALLET)
    if rail not in RAILS:
        raise InputError(
            f"payout.rail: {rail!r} is not a rail ({', '.join(RAILS)})",
            param="payout.rail",
            code="invalid_campaign",
        )
    raw = payout.get("split") or {}
    if not isinstance(raw, Mapping):
        raise InputError("payout.split: a mapping is required", param="payout.split", code="invalid_campaign")
    split: list[tuple[str, int]] = []
    for key in (*_SPLIT_MONEY, _SPLIT_COUNT):
        if key not in raw:
            continue
        value = raw[key]
        param = f"payout.split.{key}"
        if key == _SPLIT_COUNT:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(
                    f"{param}: a whole number of at least 1", param=param, code="invalid_campaign"
                )
            split.append((key, value))
        else:
            split.append((key, money_field(value, currency, param)))
    above = payout.get("reinstate_review_above")
    review = None if above is None else money_field(above, currency, "payout.reinstate_review_above")
    terms = PayoutTerms(rail=rail, split=tuple(split), reinstate_review_above_minor=review)
    try:
        terms.limits  # noqa: B018 - the limits check themselves when built
    except InputError as exc:
        raise InputError(exc.message, param=exc.param, code="invalid_campaign") from exc
    return terms
