"""One transfer's life, and what a provider's answer may do to it.

States::

    pending --send--> submitted --answer--> succeeded | failed | cancelled | waiting_user
                          |                    ^
                          +--no answer--> unknown --query--+

* ``submitted``: the request was sent (recorded *before* sending) and the
  provider has not given a final answer yet (WeChat ACCEPTED, PROCESSING,
  TRANSFERING).
* ``unknown``: the last exchange gave no reliable answer (timeout, 5xx,
  SYSTEM_ERROR, an unparsable or unsigned reply, an unknown code, an id
  conflict). Only the provider can resolve it: query it, and when the provider
  has never seen the id, resend **the same** request id.
* ``waiting_user``: the provider holds the money until the customer confirms
  (WeChat WAIT_USER_CONFIRM).
* ``returned``: final; the provider said the transfer failed for a passing
  reason, the grant's claim window closed before a new attempt paid, and its
  value went back to the campaign's budget (ADR 27).
* ``succeeded``, ``failed``, ``cancelled``: final. A final state never changes
  again; a stale non-final answer (a late callback) is ignored, and a *different*
  final answer is refused as an anomaly for a person, never applied.

A new attempt (a new request id) is possible only from ``failed`` or
``cancelled``: only then has the provider said the old id will never pay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from pledge.domain.errors import InvariantViolation, RefusedError
from pledge.domain.payouts import request_id, transfer_id


class TransferState(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    UNKNOWN = "unknown"
    WAITING_USER = "waiting_user"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETURNED = "returned"


FINAL_STATES: Final = frozenset(
    {TransferState.SUCCEEDED, TransferState.FAILED, TransferState.CANCELLED, TransferState.RETURNED}
)
# Failed for a passing reason: a new attempt (a new request id) may pay while the claim window is
# open. WeChat closes a bill the customer did not confirm within 24 h (OVERDUE_CLOSE); the merchant's
# balance may be short (NOT_ENOUGH); the customer's daily quota may be full (DAY_RECEIVED_*).
# Every other reason (ACCOUNT_FROZEN, REAL_NAME_CHECK_FAIL, a wallet's 4xx, ...) needs a person.
PASSING_REASONS: Final = frozenset(
    {"OVERDUE_CLOSE", "NOT_ENOUGH", "DAY_RECEIVED_QUOTA_EXCEED", "DAY_RECEIVED_COUNT_EXCEED"}
)
NEXT_DAY_REASONS: Final = frozenset({"DAY_RECEIVED_QUOTA_EXCEED", "DAY_RECEIVED_COUNT_EXCEED"})
IN_FLIGHT_STATES: Final = frozenset(
    {TransferState.SUBMITTED, TransferState.UNKNOWN, TransferState.WAITING_USER}
)


class Outcome(StrEnum):
    """What a provider's answer (to a send, a query or a callback) says, once mapped by a rail."""

    SUCCEEDED = "succeeded"  # paid
    FAILED = "failed"  # definitively not paid under this id
    CANCELLED = "cancelled"  # withdrawn before paying; not paid under this id
    WAITING_USER = "waiting_user"  # the customer must confirm
    PROCESSING = "processing"  # the provider has it; no result yet
    NOT_FOUND = "not_found"  # a query: the provider has never seen this id
    UNKNOWN = "unknown"  # no reliable answer


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """A rail's reading of one exchange: the outcome, the provider's words, its reference."""

    outcome: Outcome
    reason: str = ""  # the provider's code (ACCOUNT_FROZEN, OVERDUE_CLOSE, ...) or why it is unknown
    provider_ref: str = ""  # the provider's id of the transfer (transfer_bill_no, ...)
    detail: str = ""  # the provider's message, for people only; never parsed
    package_info: str = ""  # WeChat: what the customer's confirmation page needs

    @property
    def is_final(self) -> bool:
        return self.outcome in _FINAL_OUTCOMES


_FINAL_OUTCOMES: Final = {
    Outcome.SUCCEEDED: TransferState.SUCCEEDED,
    Outcome.FAILED: TransferState.FAILED,
    Outcome.CANCELLED: TransferState.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class Transfer:
    grant_id: str
    seq: int
    attempt: int
    rail: str
    amount_minor: int
    currency: str
    due_on: date
    state: TransferState = TransferState.PENDING
    reason: str = ""
    provider_ref: str = ""
    package_info: str = ""  # while waiting_user: what the customer's confirmation page needs

    @property
    def id(self) -> str:
        return transfer_id(self.grant_id, self.seq)

    @property
    def request_id(self) -> str:
        return request_id(self.grant_id, self.seq, self.attempt)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


def mark_sent(transfer: Transfer) -> Transfer:
    """Record that the request is about to go out: ``pending`` -> ``submitted``.

    Re-sending a ``submitted`` or ``unknown`` transfer is done with the same
    request id and needs no new record; it is not a transition.
    """
    if transfer.state is not TransferState.PENDING:
        raise RefusedError(
            f"transfer {transfer.id} is {transfer.state}; only a pending transfer is sent for the first time",
            code="payout_transition_refused",
        )
    return replace(transfer, state=TransferState.SUBMITTED)


def apply_answer(transfer: Transfer, answer: ProviderAnswer) -> Transfer:
    """The transfer after the provider's ``answer``; never a guess.

    Raises ``InvariantViolation`` when the provider contradicts a final answer
    it gave before (a success then a failure): money may have moved twice or
    not at all, and a person must look.
    """
    state = transfer.state
    if state is TransferState.PENDING:
        raise RefusedError(
            f"transfer {transfer.id} was never sent; an answer about it cannot apply",
            code="payout_transition_refused",
        )
    if state in FINAL_STATES:
        final = _FINAL_OUTCOMES.get(answer.outcome)
        if (
            final is None
            or final is state
            or (state is TransferState.RETURNED and final is not TransferState.SUCCEEDED)
        ):
            return transfer  # a duplicate or stale answer changes nothing
        raise InvariantViolation(
            f"transfer {transfer.id} ({transfer.request_id}) is {state} but the provider now says "
            f"{answer.outcome} ({answer.reason or 'no reason'}); refusing to change a final state"
        )
    return _next(transfer, answer)


def _next(transfer: Transfer, answer: ProviderAnswer) -> Transfer:
    outcome = answer.outcome
    final = _FINAL_OUTCOMES.get(outcome)
    if final is not None:
        new_state = final
    elif outcome is Outcome.WAITING_USER:
        new_state = TransferState.WAITING_USER
    elif outcome is Outcome.PROCESSING:
        new_state = TransferState.SUBMITTED
    elif outcome is Outcome.NOT_FOUND:
        # The provider has never seen this id: resending the same id is safe, so
        # the transfer stays unresolved; it is not a failure that would allow a new id.
        new_state = TransferState.UNKNOWN
    elif transfer.state is TransferState.WAITING_USER:
        # A lost reply to a query does not undo what we know: the provider holds
        # it and the customer must confirm.
        new_state = TransferState.WAITING_USER
    else:
        new_state = TransferState.UNKNOWN
    return replace(
        transfer,
        state=new_state,
        reason=answer.reason,
        provider_ref=answer.provider_ref or transfer.provider_ref,
        package_info=(answer.package_info or transfer.package_info)
        if new_state is TransferState.WAITING_USER
        else "",
    )


def next_attempt(transfer: Transfer) -> Transfer:
    """A new attempt with a new request id, only after the old one definitively did not pay."""
    if transfer.state not in (TransferState.FAILED, TransferState.CANCELLED):
        raise RefusedError(
            f"transfer {transfer.id} is {transfer.state}; a new request id is minted only after the "
            "provider says the previous one failed or was cancelled",
            code="payout_transition_refused",
        )
    request_id(transfer.grant_id, transfer.seq, transfer.attempt + 1)  # refuses past the last attempt
    return replace(
        transfer, attempt=transfer.attempt + 1, state=TransferState.PENDING, reason="", provider_ref=""
    )


def may_retry(transfer: Transfer) -> bool:
    """The provider said this attempt failed for a passing reason: a new attempt may pay."""
    return transfer.state is TransferState.FAILED and transfer.reason in PASSING_REASONS


def retry(transfer: Transfer, sent_on: date | None) -> Transfer:
    """The next attempt of a transfer that failed for a passing reason, due when it may pay.

    The provider's reason stays on the row (why this is attempt N); a full daily quota waits for
    the next local day.
    """
    fresh = next_attempt(transfer)
    due = transfer.due_on
    if transfer.reason in NEXT_DAY_REASONS and sent_on is not None:
        due = max(due, sent_on + timedelta(days=1))
    return replace(fresh, reason=transfer.reason, due_on=due)


def mark_returned(transfer: Transfer) -> Transfer:
    """The claim window closed unpaid: the value goes back to the budget (from failed or a pending
    retry, whose money is the customer's again)."""
    if not (
        transfer.state is TransferState.FAILED
        or (transfer.state is TransferState.PENDING and transfer.attempt > 1)
    ):
        raise RefusedError(
            f"transfer {transfer.id} is {transfer.state}; only a failed transfer or a pending retry returns "
            "its value to the budget",
            code="payout_transition_refused",
        )
    return replace(transfer, state=TransferState.RETURNED, reason=transfer.reason or "claim_window_closed")
