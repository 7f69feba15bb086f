"""Open (claim), expire and list red envelopes."""

from __future__ import annotations

from typing import Any

from pledge.domain.errors import InputError, InvariantViolation, NotFoundError
from pledge.domain.grant import Grant, GrantState
from pledge.domain.ledger import Transfer, budget_account, customer_account, grants_account
from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant
from pledge.usecases.ports import Clock, UnitOfWorkFactory

EXPIRE_BATCH = 5_000
MAX_PAGE = 1_000


def grant_json(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "object": "grant",
        "campaign": grant.campaign_id,
        "terms_version": grant.terms_version,
        "account_id": grant.account_id,
        "purchase_id": grant.purchase_id,
        "amount": format_minor(grant.amount_minor, grant.currency),
        "currency": grant.currency,
        "state": grant.state.value,
        "issued_at": format_instant(grant.issued_at_us),
        "expires_at": format_instant(grant.expires_at_us),
        "claimed_at": None if grant.claimed_at_us is None else format_instant(grant.claimed_at_us),
        "revoked_reason": grant.revoked_reason,
        "revoked_at": format_instant(grant.closed_at_us)
        if grant.state is GrantState.REVOKED and grant.closed_at_us is not None
        else None,
    }


def claim_grant(uow_factory: UnitOfWorkFactory, clock: Clock, grant_id: str) -> dict[str, Any]:
    """Open a red envelope; repeating it returns the same grant and moves no money again."""
    now = clock.now_us()
    with uow_factory() as uow:
        grant = uow.grants.get(grant_id, for_update=True)
        if grant is None:
            raise NotFoundError(f"grant {grant_id} does not exist", code="grant_not_found", param="grant_id")
        claimed = grant.claim(now)
        if claimed is not grant:
            uow.grants.update(claimed)
            uow.ledger.append(
                [
                    Transfer(
                        f"claim:{grant.id}",
                        grants_account(grant.campaign_id),
                        customer_account(grant.account_id),
                        grant.currency,
                        grant.amount_minor,
                        "claim",
                        grant.id,
                        now,
                    )
                ]
            )
            uow.commit()
    return grant_json(claimed)


def expire_grants(uow_factory: UnitOfWorkFactory, clock: Clock) -> dict[str, Any]:
    """Expire every unopened grant past its window; its value returns to the campaign budget."""
    now = clock.now_us()
    expired = 0
    amounts: dict[str, int] = {}
    while True:
        with uow_factory() as uow:
            due = uow.grants.due_for_expiry(now, EXPIRE_BATCH)
            if not due:
                break
            for grant in due:
                done = grant.expire(now)
                uow.grants.update(done)
                # adjust() refuses to exceed the funded amount: value can only come back once.
                if not uow.budgets.adjust(grant.campaign_id, grant.amount_minor):
                    raise InvariantViolation(
                        f"campaign {grant.campaign_id}: returning {grant.id} would exceed the funded budget"
                    )
                amounts[grant.currency] = amounts.get(grant.currency, 0) + grant.amount_minor
            uow.ledger.append(
                Transfer(
                    f"expire:{g.id}",
                    grants_account(g.campaign_id),
                    budget_account(g.campaign_id),
                    g.currency,
                    g.amount_minor,
                    "expire",
                    g.id,
                    now,
                )
                for g in due
            )
            uow.commit()
            expired += len(due)
    return {
        "expired": expired,
        "dry_run": False,
        "changed": expired,
        "amounts": [{"amount": format_minor(v, c), "currency": c} for c, v in sorted(amounts.items())],
    }


def list_grants(
    uow_factory: UnitOfWorkFactory,
    *,
    campaign_id: str | None = None,
    account_id: str | None = None,
    starting_after: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: must be between 1 and {MAX_PAGE}", param="limit")
    with uow_factory() as uow:
        page = uow.grants.page(
            campaign_id=campaign_id, account_id=account_id, starting_after=starting_after, limit=limit + 1
        )
    return {"object": "list", "data": [grant_json(g) for g in page[:limit]], "has_more": len(page) > limit}
