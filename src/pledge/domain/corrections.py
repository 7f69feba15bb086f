"""Corrections: what happens to a grant when its purchase stops qualifying (ADR 14).

An unopened grant is revoked: its value goes back to the campaign budget. An
opened one cannot be taken back silently — the money is with the customer — so
it stays ``claimed`` and a *claw-back case* records what the customer now owes:
a receivable for finance, booked in the ledger and listed until someone settles
it outside Pledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pledge.domain.grant import Grant
from pledge.domain.records import PurchaseRecord

# Reasons recorded on a revoked grant or a claw-back case when an import corrected the purchase.
PURCHASE_CHANGED: Final = "purchase_changed"
_STATUS_REASONS: Final = {
    "returned": "purchase_returned",
    "refunded": "purchase_refunded",
    "cancelled": "purchase_cancelled",
}
CORRECTION_REASONS: Final = (*_STATUS_REASONS.values(), PURCHASE_CHANGED)
MAX_REASON = 200  # characters of a reason support types


def correction_reason(purchase: PurchaseRecord | None) -> str:
    """Why a purchase no longer earns its grant: its new status when that says it, else a change."""
    if purchase is None:
        return PURCHASE_CHANGED
    return _STATUS_REASONS.get(purchase.status, PURCHASE_CHANGED)


class ClawbackState(StrEnum):
    OPEN = "open"


def clawback_id(grant_id: str) -> str:
    """One case per grant: the id derives from the grant's, so opening it twice collides."""
    return f"cb_{grant_id.removeprefix('gr_')}"


@dataclass(frozen=True, slots=True)
class ClawbackCase:
    """An opened grant whose purchase no longer qualifies: the customer owes ``amount_minor`` back."""

    id: str
    grant_id: str
    campaign_id: str
    account_id: str
    purchase_id: str
    amount_minor: int
    currency: str
    reason: str
    state: ClawbackState
    created_at_us: int

    @staticmethod
    def for_grant(grant: Grant, reason: str, now_us: int) -> ClawbackCase:
        return ClawbackCase(
            clawback_id(grant.id),
            grant.id,
            grant.campaign_id,
            grant.account_id,
            grant.purchase_id,
            grant.amount_minor,
            grant.currency,
            reason,
            ClawbackState.OPEN,
            now_us,
        )
