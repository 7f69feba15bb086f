"""The split (ADR 11) decides exactly what the one ordered pass decides, or says it cannot.

Free candidates (no key in conflict) are granted without the planner, and so are the ranked
accounts' candidates up to their limit (ADR 39); only the other conflicting ones go through it.
Whenever the split fits the budget, its grants, every refusal and the budget left equal the
ordered pass over every candidate; it raises ``BudgetBinds`` exactly when the ordered pass runs
out of budget.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from pledge.adapters.memory.candidates import MemoryCandidates
from pledge.domain.issuance import (
    Candidate,
    Decision,
    IssuancePlanner,
    conflict_keys,
    is_free,
    ranked_accounts,
)
from pledge.usecases.planning import BudgetBinds, Split
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
    st.booleans(),  # whether those purchases moved to another account (and device) since
    st.integers(0, 2_000_000),
    st.sets(st.integers(0, 29), max_size=4),  # candidates another campaign of the group paid (ADR 15)
)
@example(
    [("A", "S1", 0, 199_900), ("A", "S2", 1, 199_900), ("B", "S2", 2, 199_900)],
    1,
    1,
    None,
    0,
    False,
    10**9,
    set(),
)
@example([("A", "", 0, 199_900), ("B", "", 0, 199_900)], 1, 1, None, 0, False, 199_900, set())
@example([("A", "", 0, 199_900), ("B", "", 1, 199_900)], 1, 1, None, 1, True, 10**9, set())  # a moved grant
@example(
    [("A", "S1", 0, 199_900), ("A", "S2", 1, 199_900)], 1, 1, None, 0, False, 10**9, {1}
)  # paid elsewhere
def test_split_agrees_with_the_ordered_pass(
    rows: list[tuple[str, str, int, int]],
    per_account: int | None,
    per_serial: int | None,
    fixed: str | None,
    prior_runs: int,
    moved: bool,
    budget: int,
    paid_indexes: set[int],
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
    earlier = [
        c
        for c in candidates[:prior_runs]
        if t.grant_amount(c.price_minor, c.purchased_at_us) <= c.price_minor
    ]
    by_account: dict[str, int] = {}
    by_serial: dict[str, int] = {}
    for c in earlier:  # booked under the account (and device) the purchase had then
        account, serial = ("Z-" + c.account_id, "Z-" + c.serial) if moved else (c.account_id, c.serial)
        by_account[account] = by_account.get(account, 0) + 1
        if c.serial:
            by_serial[serial] = by_serial.get(serial, 0) + 1
    granted = {c.purchase_id for c in earlier}
    # Another campaign of the promise group paid some: those this campaign did not pay itself are
    # no candidates, and their account and device count against its limits like its own grants.
    paid_by = {candidates[i].purchase_id: "other" for i in paid_indexes if i < len(candidates)}
    left_out = [c for c in candidates if c.purchase_id in paid_by and c.purchase_id not in granted]
    start_account, start_serial = dict(by_account), dict(by_serial)
    for c in left_out:
        start_account[c.account_id] = start_account.get(c.account_id, 0) + 1
        if c.serial:
            start_serial[c.serial] = start_serial.get(c.serial, 0) + 1
    remaining = [c for c in candidates if c not in left_out]

    ordered = IssuancePlanner(t, budget, start_account, start_serial, granted)
    expected = _decide_all(ordered, remaining)

    prepared = MemoryCandidates(candidates, t, by_account, by_serial, granted, paid_by)
    assert list(prepared.everything()) == remaining
    split = Split(_Issued(by_account, by_serial, granted), t, prepared, budget, from_issued=True)  # type: ignore[arg-type]  # a stand-in
    runs_out = Decision.BUDGET_EXHAUSTED in expected.values()
    try:
        decided = {c.purchase_id: decision for c, decision, _ in split.decisions()}
    except BudgetBinds:  # the split says it cannot decide: exactly when the ordered pass runs out
        assert runs_out
        return
    assert not runs_out
    accounts, serials = conflict_keys(
        remaining,
        per_account,
        per_serial,
        [*by_account, *(c.account_id for c in left_out)],
        [*by_serial, *(c.serial for c in left_out)],
        granted,
    )
    ranked = ranked_accounts(
        remaining, per_account, serials, [*by_account, *(c.account_id for c in left_out)], granted
    )
    free = [c for c in remaining if is_free(c, accounts, serials)]
    for c in free:  # granted, unless their grant would exceed the price
        exceeds = t.grant_amount(c.price_minor, c.purchased_at_us) > c.price_minor
        decided[c.purchase_id] = Decision.EXCEEDS_PRICE if exceeds else Decision.GRANT
    # The ranked accounts' candidates are decided in bulk: only their counts come out.
    by_rank = [expected.pop(c.purchase_id) for c in remaining if c.account_id in ranked]
    assert decided == expected
    assert split.rank_refused.per_account == by_rank.count(Decision.PER_ACCOUNT)
    granted_in_bulk = [decided[c.purchase_id] for c in free].count(Decision.GRANT)
    assert split.free.count == granted_in_bulk + by_rank.count(Decision.GRANT)
    assert split.remaining_minor == ordered.budget_remaining_minor


class _Issued:
    """The one thing the planner reads from a unit of work: the campaign's grants so far."""

    def __init__(self, by_account: dict[str, int], by_serial: dict[str, int], granted: set[str]) -> None:
        self.grants = self
        self._counts = (by_account, by_serial, granted)

    def issued_counts(self, campaign_id: str) -> tuple[dict[str, int], dict[str, int], set[str]]:
        by_account, by_serial, granted = self._counts
        return dict(by_account), dict(by_serial), set(granted)


def test_free_candidates_carry_no_key_in_conflict() -> None:
    c = [cand("P1", "A", "S1", 1), cand("P2", "A", "S2", 2), cand("P3", "B", "S2", 3), cand("P4", "C", "", 4)]
    accounts, serials = conflict_keys(c, 1, 1)
    assert (accounts, serials) == ({"A"}, {"S2"})
    assert [x.purchase_id for x in c if is_free(x, accounts, serials)] == ["P4"]
    # No limit, no conflict, unless an earlier grant holds the key.
    assert conflict_keys(c, None, None) == (set(), set())
    assert conflict_keys(c, None, None, ["C"], ["", "S9"]) == ({"C"}, {"S9"})
