"""Payout plans: a grant split into transfers within a rail's limits, and the ids they are sent under."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.domain.errors import InputError, RefusedError
from pledge.domain.payouts import (
    WALLET,
    WALLET_LIMITS,
    WECHAT_TRANSFER,
    WECHAT_TRANSFER_LIMITS,
    RailLimits,
    default_limits,
    first_payout_day,
    has_day_room,
    limits_with,
    plan_payout,
    request_id,
)
from pledge.domain.timeutil import parse_instant

DAY = date(2026, 12, 4)


def _plan(amount: int, limits: RailLimits = WECHAT_TRANSFER_LIMITS, rail: str = WECHAT_TRANSFER):
    return plan_payout(
        grant_id="gr_0123456789abcdef01234567",
        rail=rail,
        amount_minor=amount,
        currency="CNY",
        limits=limits,
        first_day=DAY,
    )


def test_1999_on_wechat_is_ten_transfers_of_199_90_over_two_local_days() -> None:
    plan = _plan(199_900)
    assert [t.amount_minor for t in plan.transfers] == [19_990] * 10
    assert [t.due_on for t in plan.transfers] == [DAY] * 5 + [DAY + timedelta(days=1)] * 5
    assert [t.seq for t in plan.transfers] == list(range(1, 11))
    assert plan.days == 2


def test_remainder_fen_go_to_the_first_day_and_first_transfers() -> None:
    plan = _plan(100_003)  # 1000.03: two days of 500.02 and 500.01, three parts each
    assert [t.amount_minor for t in plan.transfers] == [16_668, 16_667, 16_667, 16_667, 16_667, 16_667]
    assert sum(t.amount_minor for t in plan.transfers) == 100_003


def test_wallet_pays_one_credit_whatever_the_amount() -> None:
    plan = _plan(199_900, WALLET_LIMITS, WALLET)
    assert [(t.seq, t.amount_minor, t.due_on) for t in plan.transfers] == [(1, 199_900, DAY)]


def test_an_amount_below_the_rail_minimum_is_refused_by_name() -> None:
    with pytest.raises(RefusedError) as caught:
        _plan(9)
    assert caught.value.code == "payout_below_rail_minimum"
    assert "0.09" in caught.value.message and "0.10" in caught.value.message


def test_limits_that_could_leave_a_part_under_the_minimum_are_refused() -> None:
    with pytest.raises(InputError, match="twice the rail's minimum"):
        limits_with(WECHAT_TRANSFER_LIMITS, max_per_transfer=15)


def test_campaign_split_replaces_the_rail_defaults() -> None:
    limits = limits_with(WECHAT_TRANSFER_LIMITS, max_per_transfer=10_000)
    assert limits.max_per_transfer == 10_000
    assert limits.max_per_account_day == 100_000
    assert default_limits(WALLET) is WALLET_LIMITS
    with pytest.raises(InputError, match=r"payout\.rail"):
        default_limits("alipay")


def test_day_room_counts_the_account_and_the_merchant() -> None:
    limits = limits_with(WECHAT_TRANSFER_LIMITS, max_merchant_day=1_000_000)
    room = {"account_amount_today": 80_000, "account_count_today": 4, "merchant_amount_today": 0}
    assert has_day_room(limits, **room, amount_minor=20_000)
    assert not has_day_room(limits, **room, amount_minor=20_001)
    assert not has_day_room(limits, **{**room, "account_count_today": 10}, amount_minor=10)
    assert not has_day_room(limits, **{**room, "merchant_amount_today": 990_000}, amount_minor=19_990)


def test_request_ids_are_wechat_bill_numbers_stable_and_distinct() -> None:
    first = request_id("gr_0123456789abcdef01234567", 1, 1)
    assert first == "gr0123456789abcdef0123456700101"
    assert re.fullmatch(r"[0-9A-Za-z]{1,32}", first)
    assert request_id("gr_0123456789abcdef01234567", 1, 2) != first
    assert request_id("gr_0123456789abcdef01234567", 2, 1) != first
    foreign = request_id("legacy/grant#7", 3, 1)
    assert re.fullmatch(r"gx[0-9a-f]{24}00301", foreign)
    with pytest.raises(RefusedError) as caught:
        request_id("gr_0123456789abcdef01234567", 1, 100)
    assert caught.value.code == "payout_too_many_attempts"


_caps = st.one_of(st.none(), st.integers(min_value=20, max_value=500_000))


@st.composite
def limits_strategy(draw: st.DrawFn) -> RailLimits:
    minimum = draw(st.integers(min_value=1, max_value=100))
    per_transfer = draw(st.one_of(st.none(), st.integers(min_value=2 * minimum, max_value=300_000)))
    per_day = draw(st.one_of(st.none(), st.integers(min_value=2 * minimum, max_value=2_000_000)))
    count = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=20)))
    return RailLimits(
        min_per_transfer=minimum,
        max_per_transfer=per_transfer,
        max_per_account_day=per_day,
        max_count_per_account_day=count,
    )


@settings(max_examples=400, deadline=None)
@given(limits=limits_strategy(), amount=st.integers(min_value=1, max_value=5_000_000))
def test_every_plan_sums_to_the_grant_and_respects_every_limit(limits: RailLimits, amount: int) -> None:
    if amount < limits.min_per_transfer:
        with pytest.raises(RefusedError):
            _plan(amount, limits)
        return
    refused_code = ""
    try:
        plan = _plan(amount, limits)
    except RefusedError as refused:
        refused_code = refused.code
    if refused_code:
        assert refused_code == "payout_too_many_transfers"
        return
    parts = [t.amount_minor for t in plan.transfers]
    assert sum(parts) == amount
    assert [t.seq for t in plan.transfers] == list(range(1, len(parts) + 1))
    assert all(p >= limits.min_per_transfer for p in parts)
    if limits.max_per_transfer is not None:
        assert max(parts) <= limits.max_per_transfer
    per_day: dict[date, list[int]] = defaultdict(list)
    for t in plan.transfers:
        per_day[t.due_on].append(t.amount_minor)
    # consecutive days from the first, in order, no empty day
    assert sorted(per_day) == [DAY + timedelta(days=i) for i in range(len(per_day))]
    assert [t.due_on for t in plan.transfers] == sorted(t.due_on for t in plan.transfers)
    for day_parts in per_day.values():
        if limits.max_per_account_day is not None:
            assert sum(day_parts) <= limits.max_per_account_day
        if limits.max_count_per_account_day is not None:
            assert len(day_parts) <= limits.max_count_per_account_day
    # as few days as the limits allow
    day_cap = limits.day_cap
    if day_cap is not None:
        assert len(per_day) == -(-amount // day_cap)
    # equal parts: within one day no two transfers differ by more than one minor unit
    for day_parts in per_day.values():
        assert max(day_parts) - min(day_parts) <= 1
    assert _plan(amount, limits) == plan  # deterministic


def test_the_first_day_is_the_local_date_in_the_campaign_zone() -> None:
    opened = parse_instant("2026-12-04T16:30:00Z")  # 00:30 on the 5th in Shanghai
    assert first_payout_day(opened, "Asia/Shanghai") == date(2026, 12, 5)
    assert first_payout_day(opened, "Europe/Berlin") == date(2026, 12, 4)


@settings(max_examples=200, deadline=None)
@given(
    grant=st.one_of(
        st.text(alphabet="0123456789abcdef", min_size=24, max_size=24).map(lambda h: f"gr_{h}"),
        st.text(min_size=1, max_size=40),
    ),
    keys=st.sets(st.tuples(st.integers(1, 999), st.integers(1, 99)), min_size=1, max_size=30),
)
def test_request_ids_are_bill_numbers_and_one_per_transfer_attempt(
    grant: str, keys: set[tuple[int, int]]
) -> None:
    ids = {request_id(grant, seq, attempt) for seq, attempt in keys}
    assert len(ids) == len(keys)
    assert all(re.fullmatch(r"[0-9A-Za-z]{1,32}", i) for i in ids)
    assert ids == {request_id(grant, seq, attempt) for seq, attempt in keys}
