"""Who a run would pay: free candidates in bulk, conflicting ones one by one, in order (ADR 11).

A candidate none of whose keys is in conflict (``conflict_keys``) is granted whatever the order,
unless the budget runs out, so the store counts and writes those in bulk. The candidates of a
ranked account (``ranked_accounts``, ADR 39), in conflict only through their own number, are
granted in their order until the account's limit: the store decides those in bulk too, with a
window over the account. Only the other conflicting ones go through the planner (``Split``). If
the free ones, the ranked ones and the planner's grants together fit the budget, no candidate
anywhere in the order met an empty budget, and the split decided exactly what the one ordered
pass would have. If not, ``BudgetBinds`` is raised, and the caller decides again with the ordered
pass over every candidate (``exact_decisions``), which alone knows who came before the budget ran
out. The dry run and the real run share this, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator

from pledge.domain.campaign import CashbackTerms
from pledge.domain.issuance import Candidate, Decision, IssuancePlanner
from pledge.usecases.ports import UnitOfWork
from pledge.usecases.scan_ports import CandidateTotals, PreparedCandidates

Decided = tuple[Candidate, Decision, int]


def add_to_tier(by_tier: dict[str, tuple[int, int]], tier: str, amount_minor: int) -> None:
    """One more grant of ``amount_minor`` in ``tier``."""
    n, total = by_tier.get(tier, (0, 0))
    by_tier[tier] = (n + 1, total + amount_minor)


class BudgetBinds(Exception):
    """The budget runs out during this run: only the ordered pass over every candidate decides."""


def planner_for(
    uow: UnitOfWork,
    terms: CashbackTerms,
    prepared: PreparedCandidates,
    remaining_minor: int,
    *,
    from_issued: bool,
    ranked: bool = True,
) -> IssuancePlanner:
    """The planner of a campaign's next run (or dry run); ``from_issued`` starts from its grants.

    Only the keys in conflict are remembered while it runs: no other key can reach its limit, and
    without ``ranked`` not the ranked accounts either (the split's planner never sees them). A
    purchase another campaign of the promise group paid counts as one of its own grants (ADR 15).
    """
    by_account, by_serial, granted = (
        uow.grants.issued_counts(terms.campaign_id) if from_issued else ({}, {}, set())
    )
    for account, serial in prepared.excluded_keys():  # paid by another campaign of the group
        by_account[account] = by_account.get(account, 0) + 1
        if serial:
            by_serial[serial] = by_serial.get(serial, 0) + 1
    return IssuancePlanner(
        terms,
        remaining_minor,
        by_account,
        by_serial,
        granted,
        tracked_accounts=None if terms.per_account is None else prepared.tracked_accounts(ranked=ranked),
        tracked_serials=None if terms.per_serial is None else prepared.tracked_serials(),
    )


class Split:
    """The split's decisions: iterate ``decisions()`` once, then read ``free`` and ``remaining_minor``.

    The planner starts with the whole budget; the free candidates' total is every candidate's
    total less the conflicting ones', summed as they stream by. ``BudgetBinds`` is raised as soon
    as the planner meets an empty budget, or at the end if the free grants do not fit what the
    planner left: in either case some candidate of the ordered pass would meet an empty budget.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        terms: CashbackTerms,
        prepared: PreparedCandidates,
        remaining_minor: int,
        *,
        from_issued: bool,
    ) -> None:
        self._terms, self._prepared = terms, prepared
        self.every = prepared.totals()  # before anything is decided: its blocking problems
        # The ranked accounts (ADR 39): decided by the store, the budget aside like the free ones.
        self.rank_refused = prepared.rank_refused()
        self.planner = planner_for(
            uow, terms, prepared, remaining_minor, from_issued=from_issued, ranked=False
        )
        # Of the conflicting candidates, as every.count/amount_minor/earns_nothing/by_tier.
        self._count = self._amount = self._earns_nothing = 0
        self._by_tier: dict[str, tuple[int, int]] = {}
        self._done = False

    def decisions(self) -> Iterator[Decided]:
        decide, benefit = self.planner.decide, self._terms.benefit
        tiered = benefit.tiered
        for candidate in self._prepared.conflicting():
            amount = benefit.grant_minor(candidate.price_minor, candidate.purchased_at_us)
            if amount is not None:
                self._count += 1
                self._amount += amount
                if tiered:
                    add_to_tier(self._by_tier, str(benefit.tier_of(candidate.purchased_at_us)), amount)
            elif not benefit.earns(candidate.price_minor, candidate.purchased_at_us):
                self._earns_nothing += 1
            decision, granted_minor = decide(candidate)
            if decision is Decision.BUDGET_EXHAUSTED:
                raise BudgetBinds
            yield candidate, decision, granted_minor
        self._done = True
        if self.free.amount_minor > self.planner.budget_remaining_minor:
            raise BudgetBinds

    @property
    def free(self) -> CandidateTotals:
        """What the free candidates and the ranked accounts' unrefused ones are granted (known once
        ``decisions()`` is exhausted): every candidate less those streamed and those refused."""
        assert self._done, "the free candidates are known once every conflicting one is decided"
        every, refused = self.every, self.rank_refused.totals
        by_tier = {
            tier: (
                n - self._by_tier.get(tier, (0, 0))[0] - refused.by_tier.get(tier, (0, 0))[0],
                total - self._by_tier.get(tier, (0, 0))[1] - refused.by_tier.get(tier, (0, 0))[1],
            )
            for tier, (n, total) in every.by_tier.items()
        }
        return CandidateTotals(
            every.count - self._count - refused.count,
            every.amount_minor - self._amount - refused.amount_minor,
            earns_nothing=every.earns_nothing - self._earns_nothing - refused.earns_nothing,
            by_tier=by_tier,
        )

    @property
    def remaining_minor(self) -> int:
        """The budget left once the free candidates are granted too."""
        return self.planner.budget_remaining_minor - self.free.amount_minor


def exact_decisions(
    uow: UnitOfWork,
    terms: CashbackTerms,
    prepared: PreparedCandidates,
    remaining_minor: int,
    *,
    from_issued: bool,
) -> tuple[IssuancePlanner, Iterator[Decided]]:
    """The one ordered pass over every candidate (the definition the split must agree with)."""
    planner = planner_for(uow, terms, prepared, remaining_minor, from_issued=from_issued)
    decide = planner.decide
    return planner, ((candidate, *decide(candidate)) for candidate in prepared.everything())
