"""What one ``campaign run`` issued (``usecases/issue.py``), and where its budget ran out.

``entrypoints/presenters.run_json`` is its JSON; ``event_detail`` what the campaign's history keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pledge.domain.issuance import Candidate, Decision


@dataclass(frozen=True, slots=True)
class BudgetRanOut:
    """The first candidate the budget could not pay, and its place among all ``of`` decided."""

    purchase_id: str
    purchased_at_us: int
    position: int
    of: int


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one ``campaign run`` issued; amounts in minor units of ``currency``."""

    campaign: str
    version: int
    issued: int
    amount_minor: int
    currency: str
    budget_exhausted: int
    already_paid: int
    budget_remaining_minor: int
    budget_ran_out: BudgetRanOut | None = None

    def event_detail(self) -> dict[str, Any]:
        """The ``run`` event's detail, as the campaign timeline and ``why`` read it back."""
        detail: dict[str, Any] = {
            "version": self.version,
            "issued": self.issued,
            "amount_minor": self.amount_minor,
            "budget_exhausted": self.budget_exhausted,
            "already_paid": self.already_paid,
        }
        if self.budget_ran_out is not None:
            r = self.budget_ran_out
            detail["budget_ran_out"] = {
                "purchase_id": r.purchase_id,
                "purchased_at_us": r.purchased_at_us,
                "position": r.position,
                "of": r.of,
            }
        return detail


class RanOut:
    """Where the budget ran out in issuance order: what ``explain`` tells a customer left unpaid.

    Counts every candidate decided, so on the one ordered pass (the only one that meets an empty
    budget) ``position`` is the first unpaid purchase's place among all ``of`` candidates.
    """

    __slots__ = ("count", "first", "position", "seen")

    def __init__(self) -> None:
        self.count = self.seen = self.position = 0
        self.first: Candidate | None = None

    def see(self, candidate: Candidate, decision: Decision) -> None:
        self.seen += 1
        if decision is Decision.BUDGET_EXHAUSTED:
            self.count += 1
            if self.first is None:
                self.first, self.position = candidate, self.seen

    def first_unpaid(self) -> BudgetRanOut | None:
        if self.first is None:
            return None
        return BudgetRanOut(self.first.purchase_id, self.first.purchased_at_us, self.position, self.seen)
