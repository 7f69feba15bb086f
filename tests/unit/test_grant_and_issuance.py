from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pledge.domain.campaign import CashbackTerms, parse_cashback_terms
from pledge.domain.errors import InvariantViolation, RefusedError
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.issuance import Candidate, Decision, IssuancePlanner
from tests.unit.test_campaign_terms import doc


def grant(state: GrantState = GrantState.ISSUED) -> Grant:
    return Grant("gr_1", "c", 1, "A1", "P1", 100, "CNY", state, 0, 1000)


def test_claim_is_idempotent_and_expiry_is_final() -> None:
    g = grant()
    claimed = g.claim(10)
    assert claimed.state is GrantState.CLAIMED and claimed.claimed_at_us == 10
    assert claimed.claim(20) is claimed
    with pytest.raises(RefusedError) as caught:
        g.claim(1000)
    assert caught.value.code == "grant_expired"
    expired = g.expire(1000)
    with pytest.raises(RefusedError):
        expired.claim(5)
    with pytest.raises(RefusedError, match="still be opened"):
        g.expire(999)
    with pytest.raises(RefusedError):
        claimed.expire(2000)
    assert claimed.pay(30).state is GrantState.PAID
    revoked = g.revoke(3, "purchase_returned")
    assert (revoked.state, revoked.revoked_reason, revoked.closed_at_us) == (
        GrantState.REVOKED,
        "purchase_returned",
        3,
    )
    assert revoked.revoke(4, "again") is revoked  # idempotent: the first reason and instant stay
    with pytest.raises(RefusedError) as refused:
        claimed.revoke(3, "purchase_returned")  # opened: a claw-back case, never a revocation
    assert refused.value.code == "grant_claimed"
    with pytest.raises(RefusedError) as refused:
        revoked.claim(5)
    assert refused.value.code == "grant_revoked"


def test_grant_id_is_deterministic() -> None:
    assert grant_id("c", "P1") == grant_id("c", "P1") != grant_id("c", "P2")


def terms(**changes: object) -> CashbackTerms:
    return parse_cashback_terms(doc(**changes))


def cand(pid: str, account: str, serial: str, at: int, price: int = 199900) -> Candidate:
    return Candidate(pid, account, serial, at, price, "CNY")


def test_limits_earliest_wins_and_greedy_frees_a_device() -> None:
    planner = IssuancePlanner(terms(), 10**12)
    decisions = [
        planner.decide(c)[0]
        for c in [
            cand("P1", "A", "S", 1),  # A's first device
            cand("P2", "A", "T", 2),  # A already has one: per_account
            cand("P3", "B", "T", 3),  # device T was not paid (P2 lost): B gets it
            cand("P4", "C", "S", 4),  # device S already paid: per_serial
            cand("P5", "D", "", 5),  # no serial: never collides
            cand("P6", "E", "", 6),
        ]
    ]
    assert decisions == [
        Decision.GRANT,
        Decision.PER_ACCOUNT,
        Decision.GRANT,
        Decision.PER_SERIAL,
        Decision.GRANT,
        Decision.GRANT,
    ]


def test_budget_stops_at_the_first_that_does_not_fit() -> None:
    planner = IssuancePlanner(terms(), 250_000)
    out = [
        planner.decide(c)
        for c in [
            cand("P1", "A", "", 1, 199900),
            cand("P2", "B", "", 2, 100000),
            cand("P3", "C", "", 3, 10000),
        ]
    ]
    # P3 would fit, but issuance never skips ahead: order is the promise.
    assert out == [(Decision.GRANT, 199900), (Decision.BUDGET_EXHAUSTED, 0), (Decision.BUDGET_EXHAUSTED, 0)]
    assert planner.budget_remaining_minor == 50100


def test_fixed_amount_above_price_is_never_granted() -> None:
    planner = IssuancePlanner(terms(benefit={"amount": "19990.00"}), 10**12)
    assert planner.decide(cand("P1", "A", "", 1, 199900)) == (Decision.EXCEEDS_PRICE, 0)
    assert planner.budget_remaining_minor == 10**12


def test_out_of_order_candidates_are_refused() -> None:
    planner = IssuancePlanner(terms(), 10**12)
    planner.decide(cand("P2", "A", "", 5))
    with pytest.raises(InvariantViolation):
        planner.decide(cand("P1", "B", "", 5))


def test_rerun_continues_from_issued_counts() -> None:
    planner = IssuancePlanner(terms(), 10**12, {"A": 1}, {"S": 1}, {"P1"})
    assert planner.decide(cand("P1", "A", "S", 1))[0] is Decision.ALREADY_GRANTED
    assert planner.decide(cand("P2", "A", "X", 2))[0] is Decision.PER_ACCOUNT
    assert planner.decide(cand("P3", "B", "S", 3))[0] is Decision.PER_SERIAL


@given(
    st.lists(
        st.tuples(st.sampled_from("ABCDE"), st.sampled_from(["", "S1", "S2", "S3"]), st.integers(1, 300_000)),
        max_size=60,
    ),
    st.integers(0, 3_000_000),
)
def test_invariants_hold_for_any_history(rows: list[tuple[str, str, int]], budget: int) -> None:
    planner = IssuancePlanner(terms(), budget)
    granted: list[Candidate] = []
    for index, (account, serial, price) in enumerate(rows):
        c = cand(f"P{index:04d}", account, serial, index, price)
        decision, amount = planner.decide(c)
        if decision is Decision.GRANT:
            assert 0 < amount <= price
            granted.append(c)
    spent = sum(min(c.price_minor, 199900) for c in granted)
    assert spent <= budget
    assert planner.budget_remaining_minor == budget - spent >= 0
    accounts = [c.account_id for c in granted]
    serials = [c.serial for c in granted if c.serial]
    assert len(accounts) == len(set(accounts))
    assert len(serials) == len(set(serials))


_KEY_SHAPES = st.one_of(
    st.text(max_size=35),
    st.text("0123456789", max_size=35),  # serials
    st.text("0123456789ABCDEFXYZ", max_size=35),  # account ids, one case
    st.text("0123456789abcdefxyz", max_size=35),
    st.text("0Aa-_ \x00", max_size=35),  # mixed case and punctuation: the byte reading
)


@given(st.lists(_KEY_SHAPES, min_size=2, max_size=50, unique=True))
@example(["7", "07", "007", "G", "g", "0G", "0g", "A0000001", "a0000001", "A1", "\x00A1", "A1\x00"])
def test_compact_keys_never_merge_two_distinct_keys(keys: list[str]) -> None:
    from pledge.domain.issuance import _compact

    compact = [_compact(k) for k in keys]
    assert len(set(compact)) == len(keys)


def test_compact_keys_of_the_usual_shapes_fit_in_60_bits() -> None:
    from pledge.domain.issuance import _compact

    for key in ("869000210630283", "A0000001", "a000000000", "P000000001"):
        value = _compact(key)
        assert isinstance(value, int) and value.bit_length() <= 60, key


@given(st.lists(st.sampled_from(["", "a", "A0000001", "\x00", "é", "x" * 17, "86900000002026"]), max_size=30))
def test_a_limit_of_one_admits_each_key_once_whatever_its_form(keys: list[str]) -> None:
    planner = IssuancePlanner(terms(limits={"per_account": 1, "per_serial": None}), 10**12)
    granted = [
        planner.decide(cand(f"P{i:04d}", key, "", 1_315_000_000_000_000 + i))[0] is Decision.GRANT
        for i, key in enumerate(keys)
    ]
    assert granted == [key not in keys[:i] for i, key in enumerate(keys)]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", "a0", "0007", "7"]),
            st.sampled_from(["", "S1", "S2", "869000210630283"]),
            st.booleans(),  # a candidate, or a purchase that does not qualify (it still counts)
        ),
        max_size=40,
    ),
    st.sampled_from([1, 2, 3, None]),
    st.sampled_from([1, 2, None]),
    st.dictionaries(st.sampled_from(["A", "B", "7"]), st.integers(1, 2), max_size=2),
    st.integers(0, 4_000_000),
)
def test_tracking_only_repeated_keys_changes_no_decision(
    rows: list[tuple[str, str, bool]],
    per_account: int | None,
    per_serial: int | None,
    prior: dict[str, int],
    budget: int,
) -> None:
    t = terms(limits={"per_account": per_account, "per_serial": per_serial})
    accounts = Counter(account for account, _, _ in rows)
    serials = Counter(serial for _, serial, _ in rows if serial)

    def over(counts: Counter[str], limit: int | None) -> list[str] | None:
        return None if limit is None else [k for k, n in counts.items() if n > limit]

    every = IssuancePlanner(t, budget, dict(prior), {})
    tracked = IssuancePlanner(
        t,
        budget,
        dict(prior),
        {},
        tracked_accounts=over(accounts, per_account),
        tracked_serials=over(serials, per_serial),
    )
    for index, (account, serial, qualifies) in enumerate(rows):
        if qualifies:
            c = cand(f"P{index:04d}", account, serial, index, 100_000 + index)
            assert tracked.decide(c) == every.decide(c)
    assert tracked.budget_remaining_minor == every.budget_remaining_minor
