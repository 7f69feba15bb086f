"""Who a run would pay: free candidates in bulk, conflicting ones one by one, in order (ADR 11).

A candidate none of whose keys is in conflict (``conflict_keys``) is granted whatever the order,
unless the budget runs out, so the store counts and writes those in bulk, and only the
conflicting ones go through the planner. If the free ones and the planner's grants together fit
the budget, no candidate anywhere in the order met an empty budget, and the split decided exactly
what the one ordered pass would have. If not, ``BudgetBinds`` is raised, and the caller decides
again with the ordered pass over every candidate (``exact_decisions``), which alone knows who came
before the budget ran out. The dry run and the real run share this, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator

from pledge.domain.campaign import CashbackTerms
from pledge.domain.issuance import Candidate, Decision, IssuancePlanner
from pledge.usecases.ports import FreeTotals, PreparedCandidates, UnitOfWork

Decided = tuple[Candidate, Decision, int]


class BudgetBinds(Exception):
    """The budget runs out during this run: only the ordered pass over every candidate decides."""


def planner_for(
    uow: UnitOfWork,
    terms: CashbackTerms,
    prepared: PreparedCandidates,
    remaining_minor: int,
    *,
    from_issued: bool,
) -> IssuancePlanner:
    """The planner of a campaign's next run (or dry run); ``from_issued`` starts from its grants.

    Only the keys in conflict are remembered while it runs: no other key can reach its limit.
    """
    by_account, by_serial, granted = (
        uow.grants.issued_counts(terms.campaign_id) if from_issued else ({}, {}, set())
    )
    return IssuancePlanner(
        terms,
        remaining_minor,
        by_account,
        by_serial,
        granted,
        tracked_accounts=None if terms.per_account is None else prepared.tracked_accounts(),
        tracked_serials=None if terms.per_serial is None else prepared.tracked_serials(),
    )


def split_decisions(
    uow: UnitOfWork,
    terms: CashbackTerms,
    prepared: PreparedCandidates,
    remaining_minor: int,
    *,
    from_issued: bool,
) -> tuple[FreeTotals, IssuancePlanner, Iterator[Decided]]:
    """The free candidates' totals, and the decision on each conflicting one, in order.

    The planner starts with what the free grants leave of the budget. Raises ``BudgetBinds``
    (possibly while iterating) as soon as the budget cannot cover both.
    """
    free = prepared.free_totals()
    if free.amount_minor > remaining_minor:
        raise BudgetBinds
    planner = planner_for(uow, terms, prepared, remaining_minor - free.amount_minor, from_issued=from_issued)

    def decisions() -> Iterator[Decided]:
        decide = planner.decide
        for candidate in prepared.conflicting():
            decision, amount = decide(candidate)
            if decision is Decision.BUDGET_EXHAUSTED:
                raise BudgetBinds
            yield candidate, decision, amount

    return free, planner, decisions()


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
