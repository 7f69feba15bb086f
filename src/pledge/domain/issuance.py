"""Deciding, purchase by purchase, who is granted what.

Candidates arrive in the one deterministic order (purchase time, then id).
Each is granted if its account and its serial are still under their limits
and the budget covers it; the first one the budget cannot cover stops
issuance, and every later candidate is counted as ``budget_exhausted`` (never
partially paid, never skipped in favour of a cheaper one further down).
The same planner serves the dry run and the real run, so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InvariantViolation


class Candidate(NamedTuple):
    """A purchase that passed every condition of the rule and the window."""

    purchase_id: str
    account_id: str
    serial: str
    purchased_at_us: int
    price_minor: int
    currency: str


class Decision(StrEnum):
    GRANT = "grant"
    PER_ACCOUNT = "per_account"
    PER_SERIAL = "per_serial"
    BUDGET_EXHAUSTED = "budget_exhausted"
    ALREADY_GRANTED = "already_granted"
    EXCEEDS_PRICE = "exceeds_price_paid"  # never granted: a refund can never exceed the price paid


@dataclass
class IssuancePlanner:
    """Greedy, order-preserving issuance with limits and a hard budget.

    ``account_counts``/``serial_counts`` start from grants already issued, so a
    re-run continues where the last one stopped and never issues twice.
    """

    terms: CashbackTerms
    budget_remaining_minor: int
    account_counts: dict[str, int] = field(default_factory=dict)
    serial_counts: dict[str, int] = field(default_factory=dict)
    granted_purchases: frozenset[str] | set[str] = field(default_factory=frozenset)
    exhausted: bool = False
    last_key: tuple[int, str] | None = None

    def decide(self, candidate: Candidate) -> tuple[Decision, int]:
        """Return the decision and the amount granted (0 unless GRANT)."""
        key = (candidate.purchased_at_us, candidate.purchase_id)
        if self.last_key is not None and key <= self.last_key:
            raise InvariantViolation(f"candidates out of order at purchase {candidate.purchase_id}")
        self.last_key = key
        if candidate.purchase_id in self.granted_purchases:
            return Decision.ALREADY_GRANTED, 0
        terms = self.terms
        if (
            terms.per_account is not None
            and self.account_counts.get(candidate.account_id, 0) >= terms.per_account
        ):
            return Decision.PER_ACCOUNT, 0
        # An empty serial identifies no device, so it never collides with another purchase.
        serial = candidate.serial
        if terms.per_serial is not None and serial and self.serial_counts.get(serial, 0) >= terms.per_serial:
            return Decision.PER_SERIAL, 0
        amount = terms.grant_amount(candidate.price_minor)
        if amount > candidate.price_minor:
            return Decision.EXCEEDS_PRICE, 0
        if self.exhausted or amount > self.budget_remaining_minor:
            self.exhausted = True
            return Decision.BUDGET_EXHAUSTED, 0
        self.budget_remaining_minor -= amount
        assert self.budget_remaining_minor >= 0
        self.account_counts[candidate.account_id] = self.account_counts.get(candidate.account_id, 0) + 1
        if serial:
            self.serial_counts[serial] = self.serial_counts.get(serial, 0) + 1
        return Decision.GRANT, amount
