"""``grants reinstate``: customer service re-opens an expired envelope while the budget covers it.

The mirror of expiry: the grant becomes ``issued`` again with a fresh claim window (the campaign's
``claim_within`` from now), its value moves from the campaign's budget back to what the campaign
owes its customers — one ledger posting ``reinstate:{grant}:{now}`` — and the act is audited with
who did it and why. Refused if the budget no longer holds the amount (it went to other grants).

Above the campaign's ``payout.reinstate_review_above`` two different persons re-open it: the first
call records a pending approval (the campaign event ``grant.reinstate_requested``, audited like
every call) and leaves the grant expired; a different person's call completes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pledge.domain.errors import NotFoundError, RefusedError
from pledge.domain.events import GrantReinstated
from pledge.domain.grant import Grant, GrantState
from pledge.domain.ledger import Transfer, budget_account, grants_account
from pledge.domain.money import format_minor
from pledge.domain.reinstatements import REQUESTED, check_reinstater, pending_approvers
from pledge.usecases.common import latest_version, terms_of
from pledge.usecases.corrections import check_reason
from pledge.usecases.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PendingReinstatement:
    """The first of two persons asked: the grant stays expired until a second, different one does."""

    approved_by: tuple[str, ...]
    review_above_minor: int


@dataclass(frozen=True, slots=True)
class Reinstatement:
    """The grant after a reinstatement call: re-opened, or (``pending``) still waiting for a second person."""

    grant: Grant
    pending: PendingReinstatement | None = None


def reinstate_grant(
    uow_factory: UnitOfWorkFactory, clock: Clock, grant_id: str, reason: str, actor: str
) -> Reinstatement:
    """Re-open an expired grant; repeating it on the re-opened grant changes nothing."""
    why = check_reason(reason)
    now = clock.now_us()
    with uow_factory() as uow:
        grant = uow.grants.get(grant_id, for_update=True)
        if grant is None:
            raise NotFoundError(f"grant {grant_id} does not exist", code="grant_not_found", param="grant_id")
        if grant.state is GrantState.ISSUED and grant.expires_at_us > now:
            return Reinstatement(grant)  # already open: nothing to undo
        terms = terms_of(latest_version(uow, grant.campaign_id))
        reopened = grant.reinstate(now, terms.claim_within_us)
        review_above = terms.payout.reinstate_review_above_minor
        approvers = pending_approvers(grant, uow.campaigns.events(grant.campaign_id))
        if not check_reinstater(grant, actor, approvers, review_above):
            detail = {"grant": grant.id, "reason": why, "expired_at_us": grant.expires_at_us}
            uow.campaigns.record_event(grant.campaign_id, REQUESTED, actor, now, detail)
            uow.commit()
            return Reinstatement(grant, PendingReinstatement((actor,), review_above or 0))
        if not uow.budgets.adjust(grant.campaign_id, -grant.amount_minor):
            budget = uow.budgets.get(grant.campaign_id)
            left = format_minor(budget.remaining_minor, grant.currency) if budget else "0"
            raise RefusedError(
                f"grant {grant_id}: the campaign's budget has {left} {grant.currency} left, less than "
                f"the {format_minor(grant.amount_minor, grant.currency)} to re-open",
                code="budget_exhausted",
            )
        uow.grants.update(reopened)
        uow.ledger.append(
            [
                Transfer(
                    f"reinstate:{grant.id}:{now}",
                    budget_account(grant.campaign_id),
                    grants_account(grant.campaign_id),
                    grant.currency,
                    grant.amount_minor,
                    "reinstate",
                    grant.id,
                    now,
                )
            ]
        )
        uow.campaigns.record_event(
            grant.campaign_id, "grant.reinstated", actor, now, {"grant": grant.id, "reason": why}
        )
        uow.record(GrantReinstated(reopened, why, actor))
        uow.commit()
    return Reinstatement(reopened)
