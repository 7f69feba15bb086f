"""The transfer state machine: answers move a transfer, never a guess, and a final state stays final."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.domain.errors import InvariantViolation, RefusedError
from pledge.domain.payout_transfers import (
    FINAL_STATES,
    Outcome,
    ProviderAnswer,
    Transfer,
    TransferState,
    apply_answer,
    mark_returned,
    mark_sent,
    may_retry,
    next_attempt,
    retry,
)

GRANT = "gr_0123456789abcdef01234567"


def _transfer() -> Transfer:
    return Transfer(GRANT, 1, 1, "wechat_transfer", 19_990, "CNY", date(2026, 12, 4))


def _answer(outcome: Outcome, reason: str = "") -> ProviderAnswer:
    return ProviderAnswer(outcome, reason=reason, provider_ref="wx-1")


def test_a_timeout_leaves_the_transfer_unknown_and_only_a_query_resolves_it() -> None:
    sent = mark_sent(_transfer())
    lost = apply_answer(sent, _answer(Outcome.UNKNOWN, "timeout"))
    assert lost.state is TransferState.UNKNOWN
    assert lost.request_id == sent.request_id
    never_seen = apply_answer(lost, _answer(Outcome.NOT_FOUND))
    assert never_seen.state is TransferState.UNKNOWN  # resend the same id; not a failure
    with pytest.raises(RefusedError):
        next_attempt(never_seen)
    paid = apply_answer(never_seen, _answer(Outcome.SUCCEEDED))
    assert paid.state is TransferState.SUCCEEDED
    assert paid.provider_ref == "wx-1"


def test_waiting_for_the_customer_survives_a_lost_query_reply() -> None:
    waiting = apply_answer(mark_sent(_transfer()), _answer(Outcome.WAITING_USER))
    assert apply_answer(waiting, _answer(Outcome.UNKNOWN)).state is TransferState.WAITING_USER
    assert apply_answer(waiting, _answer(Outcome.PROCESSING)).state is TransferState.SUBMITTED
    closed = apply_answer(waiting, _answer(Outcome.CANCELLED, "OVERDUE_CLOSE"))
    assert closed.state is TransferState.CANCELLED and closed.reason == "OVERDUE_CLOSE"


def test_only_a_definitive_failure_mints_a_new_request_id() -> None:
    failed = apply_answer(mark_sent(_transfer()), _answer(Outcome.FAILED, "ACCOUNT_FROZEN"))
    retry = next_attempt(failed)
    assert retry.state is TransferState.PENDING and retry.attempt == 2
    assert retry.request_id != failed.request_id
    assert retry.id == failed.id


def test_a_duplicate_final_answer_is_a_no_op_and_a_contradiction_is_refused() -> None:
    paid = apply_answer(mark_sent(_transfer()), _answer(Outcome.SUCCEEDED))
    assert apply_answer(paid, _answer(Outcome.SUCCEEDED)) == paid
    assert apply_answer(paid, _answer(Outcome.PROCESSING)) == paid  # a late callback
    with pytest.raises(InvariantViolation):
        apply_answer(paid, _answer(Outcome.FAILED))


def test_an_unsent_transfer_takes_no_answer_and_is_sent_once() -> None:
    with pytest.raises(RefusedError):
        apply_answer(_transfer(), _answer(Outcome.SUCCEEDED))
    with pytest.raises(RefusedError):
        mark_sent(mark_sent(_transfer()))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Outcome)), max_size=12))
def test_any_sequence_of_answers_keeps_the_invariants(outcomes: list[Outcome]) -> None:
    transfer = mark_sent(_transfer())
    first_final: TransferState | None = None
    for outcome in outcomes:
        before = transfer
        try:
            transfer = apply_answer(transfer, _answer(outcome))
        except InvariantViolation:
            assert before.state in FINAL_STATES
            assert transfer == before
            continue
        assert transfer.request_id == before.request_id  # answers never change the id
        assert transfer.state is not TransferState.PENDING
        if before.state in FINAL_STATES:
            assert transfer == before  # final stays final
        if outcome in (Outcome.UNKNOWN, Outcome.NOT_FOUND, Outcome.PROCESSING):
            assert transfer.state not in FINAL_STATES or before.state in FINAL_STATES  # never guessed
        if transfer.state in FINAL_STATES and first_final is None:
            first_final = transfer.state
    if first_final is not None:
        assert transfer.state is first_final


def test_a_passing_failure_is_retried_under_a_new_id_and_a_returned_one_stays_returned() -> None:
    sent = mark_sent(Transfer("gr_" + "a" * 24, 1, 1, "wechat_transfer", 19_990, "CNY", date(2021, 8, 10)))
    closed = apply_answer(sent, ProviderAnswer(Outcome.FAILED, reason="OVERDUE_CLOSE"))
    assert may_retry(closed)
    again = retry(closed, date(2021, 8, 10))
    assert (again.state, again.attempt, again.reason) == (TransferState.PENDING, 2, "OVERDUE_CLOSE")
    assert again.request_id != closed.request_id and again.due_on == date(2021, 8, 10)
    full = apply_answer(sent, ProviderAnswer(Outcome.FAILED, reason="DAY_RECEIVED_QUOTA_EXCEED"))
    assert retry(full, date(2021, 8, 10)).due_on == date(2021, 8, 11)  # tomorrow's quota
    frozen = apply_answer(sent, ProviderAnswer(Outcome.FAILED, reason="ACCOUNT_FROZEN"))
    assert not may_retry(frozen)  # a person must look
    returned = mark_returned(closed)
    assert returned.state is TransferState.RETURNED
    assert apply_answer(returned, ProviderAnswer(Outcome.FAILED, reason="OVERDUE_CLOSE")) == returned
    with pytest.raises(InvariantViolation):
        apply_answer(returned, ProviderAnswer(Outcome.SUCCEEDED))
    with pytest.raises(RefusedError):
        mark_returned(sent)
