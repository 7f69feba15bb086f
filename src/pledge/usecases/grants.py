"""Open (claim), expire and list red envelopes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pledge.domain.errors import InputError, InvariantViolation, NotFoundError
from pledge.domain.events import GrantClaimed, GrantsExpired
from pledge.domain.grant import Grant, GrantState
from pledge.domain.ledger import Transfer, budget_account, customer_account, grants_account
from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant
from pledge.usecases.common import Page, check_page_limit, page_of
from pledge.usecases.ports import Clock, ExpiredBatch, UnitOfWork, UnitOfWorkFactory

EXPIRE_BATCH = 10_000  # grants per expiry transaction
MAX_EXPIRE_BATCH = 100_000
ExpiryProgress = Callable[[int, int], None]  # (expired so far, due at the start)


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
        "tier": grant.tier,
        "revoked_at": format_instant(grant.closed_at_us)
        if grant.state is GrantState.REVOKED and grant.closed_at_us is not None
        else None,
    }


def claim_grant(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    grant_id: str,
    *,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Open a red envelope; repeating it returns the same grant and moves no money again.

    ``account_id``: the customer asking (None: staff acting for them). A customer sees only their
    own grants: another account's is answered as if it did not exist. This is decided here, once,
    on the row read under its lock, for every entry point.
    """
    now = clock.now_us()
    with uow_factory() as uow:
        grant = uow.grants.get(grant_id, for_update=True)
        if grant is None or (account_id is not None and grant.account_id != account_id):
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
            uow.record(GrantClaimed(claimed))
            uow.commit()
    return grant_json(claimed)


@dataclass(frozen=True, slots=True)
class Returned:
    """What expired grants returned to the budgets in one currency, in its minor units."""

    currency: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ExpiryRun:
    """What ``grants expire`` did: ``expired`` grants in ``batches``, ``returned`` per currency (sorted)."""

    expired: int
    batches: int
    returned: tuple[Returned, ...]


def expire_grants(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    batch_size: int = EXPIRE_BATCH,
    progress: ExpiryProgress | None = None,
) -> ExpiryRun:
    """Expire every unopened grant past its window; its value returns to the campaign budget.

    Batch by batch, each its own transaction (ADR 17): one statement expires up to ``batch_size``
    grants, and per campaign the budget moves once and one ledger posting books them. An
    interruption loses at most the batch in flight (rolled back whole); running again continues
    with what is still due, and nothing is expired or returned twice.
    """
    if not 1 <= batch_size <= MAX_EXPIRE_BATCH:
        raise InputError(f"batch_size: must be between 1 and {MAX_EXPIRE_BATCH}", param="batch_size")
    now = clock.now_us()
    with uow_factory() as uow:
        due = uow.grants.count_due(now)
    if progress:
        progress(0, due)
    expired = batches = 0
    amounts: dict[str, int] = {}
    after = ""
    while True:
        with uow_factory() as uow:
            batch = uow.grants.expire_due(now, batch_size, after)
            if not batch.campaigns:
                break
            _book_expiry(uow, batch, now)
            uow.commit()
        after = batch.resume_after
        batches += 1
        expired += batch.count
        for c in batch.campaigns:
            amounts[c.currency] = amounts.get(c.currency, 0) + c.amount_minor
        if progress:
            progress(expired, max(due, expired))
    return ExpiryRun(expired, batches, tuple(Returned(c, v) for c, v in sorted(amounts.items())))


def _book_expiry(uow: UnitOfWork, batch: ExpiredBatch, now: int) -> None:
    """Return each campaign's share of a batch to its budget: one move, one ledger posting."""
    postings = []
    for c in batch.campaigns:
        # adjust() refuses to exceed the funded amount: value can only come back once.
        if not uow.budgets.adjust(c.campaign_id, c.amount_minor):
            raise InvariantViolation(
                f"campaign {c.campaign_id}: returning {c.amount_minor} for {c.count} expired grants "
                "would exceed the funded budget"
            )
        uow.record(GrantsExpired(c.campaign_id, c.currency, c.count, c.amount_minor, c.first_grant_id, now))
        postings.append(
            Transfer(
                # unique: a grant expires once per issuance, in one batch (a reinstated grant may
                # expire again later, hence the instant)
                f"expire:{c.first_grant_id}:{now}",
                grants_account(c.campaign_id),
                budget_account(c.campaign_id),
                c.currency,
                c.amount_minor,
                "expire",
                c.campaign_id,
                now,
            )
        )
    uow.ledger.append(postings)


def list_grants(
    uow_factory: UnitOfWorkFactory,
    *,
    campaign_id: str | None = None,
    account_id: str | None = None,
    starting_after: str | None = None,
    limit: int = 100,
) -> Page[Grant]:
    """One page of grants, oldest id first, after ``starting_after``."""
    check_page_limit(limit)
    with uow_factory(read_only=True) as uow:
        page = uow.grants.page(
            campaign_id=campaign_id, account_id=account_id, starting_after=starting_after, limit=limit + 1
        )
    return page_of(page, limit)
