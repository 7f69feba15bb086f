"""Grants: what one qualifying purchase earned under one terms version.

States: ``issued → claimed → paying → paid`` (ADR 27: ``paying`` once its payout is planned, ``paid``
when every transfer succeeded, ``payout_failed`` when a transfer failed for good or its value went
back to the budget as the claim window closed unpaid), ``issued → expired`` (value returns to
the budget) and ``issued → revoked`` (the purchase was returned or corrected, or
support withdrew it: value returns to the budget). An opened grant is never
revoked: the money is with the customer, so a correction opens a claw-back case
instead (:mod:`pledge.domain.corrections`, ADR 14). A grant's id is derived from
(campaign, purchase), so the id itself is the idempotency key of issuance:
issuing the same purchase twice collides on the id instead of paying twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum

from pledge.domain.errors import RefusedError
from pledge.domain.timeutil import format_instant


class GrantState(StrEnum):
    ISSUED = "issued"
    CLAIMED = "claimed"
    PAYING = "paying"
    PAID = "paid"
    PAYOUT_FAILED = "payout_failed"
    EXPIRED = "expired"
    REVOKED = "revoked"


_ALLOWED: dict[GrantState, frozenset[GrantState]] = {
    GrantState.ISSUED: frozenset({GrantState.CLAIMED, GrantState.EXPIRED, GrantState.REVOKED}),
    GrantState.CLAIMED: frozenset({GrantState.PAYING, GrantState.PAID}),
    GrantState.PAYING: frozenset({GrantState.PAID, GrantState.PAYOUT_FAILED}),
    GrantState.PAYOUT_FAILED: frozenset({GrantState.PAYING}),  # customer service fixed the cause
    GrantState.PAID: frozenset(),
    GrantState.EXPIRED: frozenset(),
    GrantState.REVOKED: frozenset(),
}


# Opened envelopes: the money is the customer's (or on its way to them); never expired nor revoked.
OPENED_STATES = frozenset({GrantState.CLAIMED, GrantState.PAYING, GrantState.PAID, GrantState.PAYOUT_FAILED})


def lapsed(grant: Grant, expired_through_us: int) -> Grant:
    """The grant as it reads once its campaign's expiry has run through ``expired_through_us``
    (ADR 36): unopened and due by then, it is expired, closed when its window closed. Expiry moves
    the campaign's mark and books the value once per campaign; no grant row is rewritten."""
    if grant.state is GrantState.ISSUED and grant.expires_at_us <= expired_through_us:
        return replace(grant, state=GrantState.EXPIRED, closed_at_us=grant.expires_at_us)
    return grant


def check_after_mark(campaign_id: str, expires_at_us: int, expired_through_us: int) -> None:
    """An unopened grant written now must expire after its campaign's mark, or it would read as
    expired without its value ever returning to the budget. Only a business time (``--now``) set
    before an expiry that already ran can ask for that."""
    if expires_at_us <= expired_through_us:
        raise RefusedError(
            f"campaign {campaign_id}: a grant written now would expire at {format_instant(expires_at_us)}, "
            f"but expiry already ran through {format_instant(expired_through_us)}; use a later --now",
            code="behind_expiry",
        )


def grant_id(campaign_id: str, purchase_id: str) -> str:
    digest = hashlib.sha256(f"{campaign_id}\x1f{purchase_id}".encode()).hexdigest()
    return f"gr_{digest[:24]}"


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    campaign_id: str
    terms_version: int
    account_id: str
    purchase_id: str
    amount_minor: int
    currency: str
    state: GrantState
    issued_at_us: int
    expires_at_us: int
    claimed_at_us: int | None = None
    closed_at_us: int | None = None  # when it became paid, expired or revoked
    revoked_reason: str | None = None  # why: a code (purchase_returned, ...) or support's text
    tier: str | None = None  # the campaign's tier the purchase fell in (ADR 34); None: untiered

    def __post_init__(self) -> None:
        assert self.amount_minor > 0, "a grant is always worth something"
        assert self.expires_at_us > self.issued_at_us, "a grant expires after it is issued"

    def _move(self, target: GrantState) -> None:
        if target not in _ALLOWED[self.state]:
            raise RefusedError(
                f"grant {self.id} is {self.state.value} and cannot become {target.value}",
                code=f"grant_{self.state.value}",
            )

    def claim(self, now_us: int) -> Grant:
        """Open the red envelope. Claiming twice returns the grant unchanged (idempotent)."""
        if self.state in OPENED_STATES:
            return self
        if self.state is GrantState.ISSUED and now_us >= self.expires_at_us:
            raise RefusedError(
                f"grant {self.id} could be opened until {format_instant(self.expires_at_us)} and has expired",
                code="grant_expired",
            )
        self._move(GrantState.CLAIMED)
        return replace(self, state=GrantState.CLAIMED, claimed_at_us=now_us)

    def expire(self, now_us: int) -> Grant:
        if now_us < self.expires_at_us:
            raise RefusedError(f"grant {self.id} can still be opened", code="grant_not_due")
        self._move(GrantState.EXPIRED)
        return replace(self, state=GrantState.EXPIRED, closed_at_us=now_us)

    def start_paying(self) -> Grant:
        """Its payout is planned: money is on its way (``claimed`` -> ``paying``)."""
        if self.state is GrantState.PAYING:
            return self
        self._move(GrantState.PAYING)
        return replace(self, state=GrantState.PAYING)

    def pay(self, now_us: int) -> Grant:
        """Every transfer of its payout succeeded. Paying a paid grant returns it unchanged."""
        if self.state is GrantState.PAID:
            return self
        self._move(GrantState.PAID)
        return replace(self, state=GrantState.PAID, closed_at_us=now_us)

    def reinstate(self, now_us: int, claim_within_us: int) -> Grant:
        """Re-open an expired envelope for a fresh claim window from ``now_us`` (customer service
        undoing a miss). Only an expired grant; the caller moves its value back from the budget."""
        if self.state is not GrantState.EXPIRED:
            raise RefusedError(
                f"grant {self.id} is {self.state.value}; only an expired grant is reinstated",
                code=f"grant_{self.state.value}",
            )
        return replace(
            self, state=GrantState.ISSUED, expires_at_us=now_us + claim_within_us, closed_at_us=None
        )

    def fail_payout(self, now_us: int) -> Grant:
        """A transfer failed for good (a person must look) or its value went back to the budget."""
        if self.state is GrantState.PAYOUT_FAILED:
            return self
        self._move(GrantState.PAYOUT_FAILED)
        return replace(self, state=GrantState.PAYOUT_FAILED, closed_at_us=now_us)

    def revoke(self, now_us: int, reason: str) -> Grant:
        """Withdraw an unopened grant. Revoking a revoked grant returns it unchanged (idempotent)."""
        if self.state is GrantState.REVOKED:
            return self
        self._move(GrantState.REVOKED)
        return replace(self, state=GrantState.REVOKED, closed_at_us=now_us, revoked_reason=reason)
