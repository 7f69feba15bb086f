"""Payout transfers as the API, the console and the CLI list them (``entrypoints/payouts_json.py``
presents the page)."""

from __future__ import annotations

from typing import Any

from pledge.domain.errors import InputError
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import TransferState
from pledge.usecases.common import Page, check_page_limit, page_of
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import UnitOfWorkFactory


def payout_json(record: PayoutRecord) -> dict[str, Any]:
    """A transfer as JSON; with the use cases because ``explain`` shows a grant's transfers this way."""
    tr = record.transfer
    return {
        "id": record.id,
        "object": "payout_transfer",
        "grant_id": tr.grant_id,
        "account_id": record.account_id,
        "campaign": record.campaign_id,
        "rail": tr.rail,
        "seq": tr.seq,
        "attempt": tr.attempt,
        "request_id": tr.request_id,
        "amount": format_minor(tr.amount_minor, tr.currency),
        "currency": tr.currency,
        "state": tr.state.value,
        "attempts": record.attempts,
        "due_on": tr.due_on.isoformat(),
        "provider_ref": tr.provider_ref,
        "reason": tr.reason,
    }


def list_payouts(
    uow_factory: UnitOfWorkFactory,
    *,
    campaign_id: str | None = None,
    grant_id: str | None = None,
    state: str | None = None,
    starting_after: str | None = None,
    limit: int = 100,
) -> Page[PayoutRecord]:
    check_page_limit(limit)
    if state is not None and state not in {s.value for s in TransferState}:
        raise InputError(
            f"state: {state!r} is not a transfer state ({', '.join(s.value for s in TransferState)})",
            param="state",
        )
    with uow_factory() as uow:
        page = uow.payouts.page(
            campaign_id=campaign_id,
            grant_id=grant_id,
            state=state,
            starting_after=starting_after,
            limit=limit + 1,
        )
    return page_of(page, limit)
