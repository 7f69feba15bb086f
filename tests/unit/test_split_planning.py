"""The split (ADR 11) decides exactly what the one ordered pass decides, or says it cannot.

Free candidates (no key in conflict) are granted without the planner; only the conflicting ones go
through it, with what the free ones leave of the budget. Whenever that split fits the budget, its
grants and every refusal count equal the ordered pass over every candidate; whenever it does not,
the ordered pass really does run out of budget.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from pledge.domain.issuance import Candidate, Decision, IssuancePlanner, conflict_keys, is_free
from tests.unit.test_grant_and_issuance import cand, terms

ROWS = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D", "a0", "0007"]),
        st.sampled_from(["", "S1", "S2", "S3", "869000210630283"]),
        st.integers(0, 5),  # purchase day: ties in time are broken by purchase id
        st.sampled_from([100, 149_900, 199_900, 250_000]),
    ),
    max_size=30,
)


def _decide_all(planner: IssuancePlanner, candidates: list[Candidate]) -> dict[str, Decision]:
    return {c.purchase_id: planner.decide(c)[0] for c in candidates}


@given(
    ROWS,
    st.sampled_from([1, 2, None]),
    st.sampled_from([1, 2, None]),
    st.sampled_from([None, "1500.00"]),
    st.integers(0, 2),  # how many of the first candidates an earlier run granted
    st.integers(0, 2_000_000),
)
@example([("A", "S1", 0, 199_900), ("A", "S2", 1, 199_900), ("B", "S2", 2, 199_900)], 1, 1, None, 0, 10**9)
@example([("A", "", 0, 199_900), ("B", "", 0, 199_900)], 1, 1, None, 0, 199_900)
def test_split_agrees_with_the_ordered_pass(
    rows: list[tuple[str, str, int, int]],
    per_account: int | None,
    per_serial: int | None,
    fixed: str | None,
    prior_runs: int,
    budget: int,
) -> None:
    changes: dict[str, object] = {"limits": {"per_account": per_account, "per_serial": per_serial}}
    if fixed is not None:
        changes["benefit"] = {"kind": "cashback", "amount": fixed, "max_amount": "1999.00"}
    t = terms(**changes)
    candidates = sorted(
        (cand(f"P{i:03d}", a, s, day * 86_400_000_000, price) for i, (a, s, day, price) in enumerate(rows)),
        key=lambda c: (c.purchased_at_us, c.purchase_id),
    )
    # An earlier run granted some candidates: their keys count, and they are never granted twice.
    earlier = [c for c in candidates[:prior_runs] if t.grant_amount(c.price_minor) <= c.price_minor]
    by_account: dict[str, int] = {}
    by_serial: dict[str, int] = {}
    for c in earlier:
        by_account[c.account_id] = by_account.get(c.account_id, 0) + 1
        if c.serial:
            by_serial[c.serial] = by_serial.get(c.serial, 0) + 1
    granted = {c.purchase_id for c in earlier}

    ordered = IssuancePlanner(t, budget, dict(by_account), dict(by_serial), granted)
    expected = _decide_all(ordered, candidates)

    accounts, serials = conflict_keys(candidates, per_account, per_serial, by_account, by_serial)
    free = [
        c
        for c in candidates
        if is_free(c, accounts, serials) and t.grant_amount(c.price_minor) <= c.price_minor
    ]
    free_amount = sum(t.grant_amount(c.price_minor) for c in free)
    binds = free_amount > budget
    decided: dict[str, Decision] = {}
    if not binds:
        split = IssuancePlanner(
            t,
            budget - free_amount,
            dict(by_account),
            dict(by_serial),
            granted,
            tracked_accounts=None if per_account is None else accounts,
            tracked_serials=None if per_serial is None else serials,
        )
        conflicting = [c for c in candidates if not is_free(c, accounts, serials)]
        decided = _decide_all(split, conflicting)
        binds = Decision.BUDGET_EXHAUSTED in decided.values()
    if binds:  # the split says it cannot decide: the ordered pass does run out
        assert Decision.BUDGET_EXHAUSTED in expected.values()
        return
    decided.update(dict.fromkeys((c.purchase_id for c in free), Decision.GRANT))
    for c in candidates:  # what neither path grants is refused for the same reason
        decided.setdefault(c.purchase_id, Decision.EXCEEDS_PRICE)
    assert decided == expected
    assert split.budget_remaining_minor == ordered.budget_remaining_minor


def test_free_candidates_carry_no_key_in_conflict() -> None:
    c = [cand("P1", "A", "S1", 1), cand("P2", "A", "S2", 2), cand("P3", "B", "S2", 3), cand("P4", "C", "", 4)]
    accounts, serials = conflict_keys(c, 1, 1)
    assert (accounts, serials) == ({"A"}, {"S2"})
    assert [x.purchase_id for x in c if is_free(x, accounts, serials)] == ["P4"]
    # No limit, no conflict, unless an earlier grant holds the key.
    assert conflict_keys(c, None, None) == (set(), set())
    assert conflict_keys(c, None, None, ["C"], ["", "S9"]) == ({"C"}, {"S9"})
