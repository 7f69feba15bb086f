"""Open (claim), expire and list red envelopes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pledge.domain.errors import InvariantViolation, NotFoundError
from pledge.domain.events import GrantClaimed, GrantsExpired
from pledge.domain.grant import Grant, GrantState
from pledge.domain.ledger import Transfer, budget_account, customer_account, grants_account
from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant
from pledge.usecases.common import Page, check_page_limit, page_of
from pledge.usecases.ports import CampaignExpiry, Clock, UnitOfWork, UnitOfWorkFactory

ExpiryProgress = Callable[[int, int], None]  # (campaigns done, campaigns in all)


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
) -> Grant:
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
    return claimed


@dataclass(frozen=True, slots=True)
class Returned:
    """What expired grants returned to the budgets in one currency, in its minor units."""

    currency: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ExpiryRun:
    """What ``grants expire`` did: ``expired`` grants in ``batches`` transactions (one per campaign
    with grants due), ``returned`` per currency (sorted)."""

    expired: int
    batches: int
    returned: tuple[Returned, ...]


def expire_grants(
    uow_factory: UnitOfWorkFactory, clock: Clock, *, progress: ExpiryProgress | None = None
) -> ExpiryRun:
    """Expire every unopened grant past its window; its value returns to the campaign budget.

    Campaign by campaign, each its own transaction (ADR 36): the campaign's expiry mark moves to
    now, and the budget moves once and one ledger posting books every grant that expired. An
    interruption loses at most the campaign in flight (rolled back whole); running again continues
    with what is still due, and nothing is expired or returned twice.
    """
    now = clock.now_us()
    with uow_factory(read_only=True) as uow:
        campaign_ids = [r.campaign_id for r in uow.campaigns.all() if r.kind != "offer"]
    if progress:
        progress(0, len(campaign_ids))
    expired = batches = 0
    amounts: dict[str, int] = {}
    for done, campaign_id in enumerate(campaign_ids, start=1):
        with uow_factory() as uow:
            swept = uow.grants.expire_due(campaign_id, now)
            if swept:
                _book_expiry(uow, swept, now)
            uow.commit()  # the mark moved even when nothing was due
        batches += bool(swept)
        for c in swept:
            expired += c.count
            amounts[c.currency] = amounts.get(c.currency, 0) + c.amount_minor
        if progress:
            progress(done, len(campaign_ids))
    return ExpiryRun(expired, batches, tuple(Returned(c, v) for c, v in sorted(amounts.items())))


def _book_expiry(uow: UnitOfWork, swept: list[CampaignExpiry], now: int) -> None:
    """Return what expired to its campaign's budget: one move, one ledger posting per currency."""
    postings = []
    for c in swept:
        # adjust() refuses to exceed the funded amount: value can only come back once.
        if not uow.budgets.adjust(c.campaign_id, c.amount_minor):
            raise InvariantViolation(
                f"campaign {c.campaign_id}: returning {c.amount_minor} for {c.count} expired grants "
                "would exceed the funded budget"
            )
        uow.record(GrantsExpired(c.campaign_id, c.currency, c.count, c.amount_minor, c.first_grant_id, now))
        postings.append(
            Transfer(
                # unique: a grant expires once per issuance (a reinstated grant may expire again
                # later, hence the instant)
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
