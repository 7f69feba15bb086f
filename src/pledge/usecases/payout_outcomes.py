"""What a provider's answer does to a transfer, its grant, its money and the budget (ADR 24, 27).

One place for every path that hears from a provider (``payouts run``, ``payouts sync``, the WeChat
completion callback), so that racing paths agree: each takes the transfer's row lock, and the
transfer state machine (``domain/payout_transfers``) decides; a final state never moves.

- A transfer that failed for a passing reason (``PASSING_REASONS``: OVERDUE_CLOSE, NOT_ENOUGH, a
  full daily quota) gets a new attempt, hence a **new** request id, while the grant's claim window
  is open; the old id is never sent again. Once the window has closed, its value goes back to the
  campaign's budget through the ledger (the transfer becomes ``returned``).
- Any other failure (ACCOUNT_FROZEN, REAL_NAME_CHECK_FAIL, a wallet's 4xx, a cancellation) stays
  ``failed`` with the provider's reason: the queue for customer service (``payouts list --state
  failed``); the money is back in the customer's wallet account until a person decides.
- The grant follows its transfers: ``paid`` when every one succeeded, ``payout_failed`` when one
  failed for good or was returned, ``paying`` otherwise.
"""

from __future__ import annotations

from dataclasses import replace

from pledge.domain.errors import InvariantViolation
from pledge.domain.grant import Grant, GrantState
from pledge.domain.ledger import (
    Transfer,
    budget_account,
    customer_account,
    payouts_in_transit_account,
    payouts_paid_account,
)
from pledge.domain.payout_transfers import (
    ProviderAnswer,
    TransferState,
    apply_answer,
    mark_returned,
    may_retry,
    retry,
)
from pledge.domain.payouts import MAX_ATTEMPTS
from pledge.domain.timeutil import US_PER_DAY
from pledge.usecases.notify_transactional import tell_account
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import UnitOfWork

CONFIRM_WITHIN_US = US_PER_DAY  # WeChat closes an unconfirmed transfer after 24 hours (OVERDUE_CLOSE)

_GIVEN_UP = frozenset({TransferState.FAILED, TransferState.CANCELLED, TransferState.RETURNED})


def posting(record: PayoutRecord, step: str, debit: str, credit: str, now_us: int) -> Transfer:
    """The ledger posting of one step of one attempt; its id books the step once, whatever races."""
    tr = record.transfer
    posting_id = f"payout:{tr.request_id}:{step}"
    return Transfer(
        posting_id, debit, credit, tr.currency, tr.amount_minor, f"payout_{step}", record.id, now_us
    )


def apply_provider_answer(
    uow: UnitOfWork, transfer_id: str, answer: ProviderAnswer, now_us: int, sends: int
) -> TransferState:
    """Apply the provider's answer under the row lock, with its postings; returns the state reached
    (``failed`` when a passing failure was turned into a new pending attempt)."""
    record = uow.payouts.get(transfer_id, for_update=True)
    assert record is not None, "transfers are never deleted"
    before = record.transfer
    try:
        after = apply_answer(before, answer)
    except InvariantViolation as exc:
        # The provider contradicts a final answer: change nothing, keep its words for a person.
        uow.payouts.update(replace(record, attempts=record.attempts + sends, updated_at_us=now_us))
        uow.campaigns.record_event(
            record.campaign_id, "payout_anomaly", "system", now_us, {"detail": str(exc)}
        )
        return before.state
    rail = before.rail
    if not before.is_final and after.state is TransferState.SUCCEEDED:
        uow.ledger.append(
            [posting(record, "paid", payouts_in_transit_account(rail), payouts_paid_account(rail), now_us)]
        )
    elif not before.is_final and after.is_final:  # failed or cancelled: the money is the customer's again
        wallet = customer_account(record.account_id)
        uow.ledger.append([posting(record, "back", payouts_in_transit_account(rail), wallet, now_us)])
    updated = replace(record, transfer=after, attempts=record.attempts + sends, updated_at_us=now_us)
    if after.state is TransferState.WAITING_USER and before.state is not TransferState.WAITING_USER:
        _ask_to_confirm(uow, record, after.request_id, after.amount_minor, after.currency, now_us)
    if before.is_final or not after.is_final:
        uow.payouts.update(updated)
        return after.state
    grant = uow.grants.get(after.grant_id, for_update=True)
    if may_retry(after) and grant is not None:
        if now_us >= grant.expires_at_us:
            updated = return_to_budget(uow, updated, now_us)
        elif after.attempt < MAX_ATTEMPTS:
            # A new attempt, a new request id; the old one is never sent again.
            uow.payouts.update(replace(updated, transfer=retry(after, record.sent_on), sent_on=None))
            return after.state
    uow.payouts.update(updated)
    if grant is not None:
        refresh_grant(uow, grant, now_us)
    return after.state


def _ask_to_confirm(
    uow: UnitOfWork, record: PayoutRecord, request_id: str, amount_minor: int, currency: str, now_us: int
) -> None:
    """The rail waits for the customer (WeChat's WAIT_USER_CONFIRM): they are told, once per request,
    with the day the provider closes it (24 hours on WeChat), in the decision's own transaction."""
    versions = uow.campaigns.versions(record.campaign_id)
    document = versions[-1].document if versions else {}
    params = {
        "campaign_name": str(document.get("name", record.campaign_id)),
        "amount_minor": amount_minor,
        "currency": currency,
        "confirm_before_us": now_us + CONFIRM_WITHIN_US,
        "timezone": str(document.get("timezone", "Asia/Shanghai")),
    }
    tell_account(uow, "payout_confirm", record.campaign_id, record.account_id, request_id, params, now_us)


def return_to_budget(uow: UnitOfWork, record: PayoutRecord, now_us: int) -> PayoutRecord:
    """The claim window closed before a new attempt paid: the value goes back to the budget."""
    returned = replace(record, transfer=mark_returned(record.transfer), updated_at_us=now_us)
    wallet = customer_account(record.account_id)
    uow.ledger.append([posting(returned, "returned", wallet, budget_account(record.campaign_id), now_us)])
    if not uow.budgets.adjust(record.campaign_id, record.transfer.amount_minor):
        raise InvariantViolation(
            f"campaign {record.campaign_id}: returning {record.id} would exceed the funded budget"
        )
    return returned


def close_if_window_ended(uow: UnitOfWork, record: PayoutRecord, now_us: int) -> bool:
    """A pending retry whose grant's claim window has closed is not sent: its value is returned.
    True when it was closed."""
    if record.transfer.attempt < 2 or record.transfer.state is not TransferState.PENDING:
        return False
    grant = uow.grants.get(record.transfer.grant_id, for_update=True)
    if grant is None or now_us < grant.expires_at_us:
        return False
    uow.payouts.update(return_to_budget(uow, record, now_us))
    refresh_grant(uow, grant, now_us)
    return True


def refresh_grant(uow: UnitOfWork, grant: Grant, now_us: int) -> None:
    """The grant's state from its transfers: paid, payout_failed, or still paying."""
    if grant.state not in (GrantState.CLAIMED, GrantState.PAYING):
        return
    states = [r.transfer.state for r in uow.payouts.of_grant(grant.id)]
    if not states:
        return
    paying = grant.start_paying()
    if all(s is TransferState.SUCCEEDED for s in states):
        uow.grants.update(paying.pay(now_us))
    elif any(s in _GIVEN_UP for s in states):
        uow.grants.update(paying.fail_payout(now_us))
    elif paying is not grant:
        uow.grants.update(paying)
