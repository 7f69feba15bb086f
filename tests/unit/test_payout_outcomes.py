"""What a provider's answer does on the memory fakes (ADR 24, 27): the transfer, its grant, the ledger
and the budget. A final failure gives the money back to the customer's account; a passing one gets a
new attempt (a new request id) while the claim window is open and goes back to the budget after it;
an answer contradicting a final one changes nothing and is kept for a person."""

from __future__ import annotations

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.grant import GrantState
from pledge.domain.payout_transfers import Outcome, ProviderAnswer, TransferState
from pledge.usecases.payout_outcomes import apply_provider_answer, close_if_window_ended
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import Budget, UnitOfWorkFactory
from tests.contract.conftest import account, campaign
from tests.contract.test_payouts import _grant, _record

IN_WINDOW, AFTER_WINDOW = 500, 2_000  # the test grant's window ends at 1,000 µs
FUNDED = 10_000
RETURNED = ["payout_back", "payout_returned"]  # to the customer's account, then to the budget
Look = tuple[PayoutRecord, GrantState, list[str], int]


def _books(*states: TransferState) -> tuple[UnitOfWorkFactory, list[PayoutRecord]]:
    """A funded campaign, one opened grant of 300 and its transfers (100 each) in ``states``."""
    factory = memory_uow_factory(MemoryStore())
    with factory() as uow:
        uow.campaigns.add(campaign("c1"))
        uow.budgets.create(Budget("c1", "CNY", FUNDED, FUNDED - 300))
        grant = _grant("P1")
        uow.grants.add_many([grant], [""], posting_id="issue:c1:1")
        uow.grants.flush_added()
        uow.grants.update(grant.claim(100))
        records = [_record(grant, seq, state) for seq, state in enumerate(states, start=1)]
        uow.payouts.add_plan(records)
        uow.commit()
    return factory, records


def _answer(factory: UnitOfWorkFactory, record: PayoutRecord, answer: ProviderAnswer, now_us: int) -> None:
    with factory() as uow:
        apply_provider_answer(uow, record.id, answer, now_us, 1)
        uow.commit()


def _look(
    factory: UnitOfWorkFactory, record: PayoutRecord
) -> tuple[PayoutRecord, GrantState, list[str], int]:
    """The transfer now, its grant's state, the payout postings' kinds, the budget's remaining."""
    with factory() as uow:
        now = uow.payouts.get(record.id)
        grant = uow.grants.get(record.transfer.grant_id)
        budget = uow.budgets.get("c1")
        kinds = [c.transfer.kind for c in uow.ledger.entries() if c.transfer.kind.startswith("payout_")]
    assert now is not None and grant is not None and budget is not None
    return now, grant.state, kinds, budget.remaining_minor


def test_the_grant_is_paid_when_every_transfer_succeeded_and_booked_once() -> None:
    factory, (first, second) = _books(TransferState.SUBMITTED, TransferState.SUBMITTED)
    paid = ProviderAnswer(Outcome.SUCCEEDED, provider_ref="ref")
    _answer(factory, first, paid, IN_WINDOW)
    assert _look(factory, first)[1] is GrantState.PAYING  # one of two paid
    _answer(factory, second, paid, IN_WINDOW)
    _answer(factory, second, paid, IN_WINDOW + 1)  # said twice
    now, state, kinds, remaining = _look(factory, second)
    assert (now.transfer.state, state, kinds) == (
        TransferState.SUCCEEDED,
        GrantState.PAID,
        ["payout_paid"] * 2,
    )
    assert now.attempts == second.attempts + 2  # both exchanges counted
    assert remaining == FUNDED - 300


def test_a_final_failure_gives_the_money_back_to_the_customer_and_fails_the_grant() -> None:
    factory, (record,) = _books(TransferState.SUBMITTED)
    _answer(factory, record, ProviderAnswer(Outcome.FAILED, reason="ACCOUNT_FROZEN"), IN_WINDOW)
    now, state, kinds, remaining = _look(factory, record)
    assert (now.transfer.state, now.transfer.reason) == (TransferState.FAILED, "ACCOUNT_FROZEN")
    assert (state, kinds, remaining) == (GrantState.PAYOUT_FAILED, ["payout_back"], FUNDED - 300)


def test_a_passing_failure_is_a_new_attempt_in_the_window_and_back_to_the_budget_after_it() -> None:
    factory, (record,) = _books(TransferState.SUBMITTED)
    _answer(factory, record, ProviderAnswer(Outcome.FAILED, reason="NOT_ENOUGH"), IN_WINDOW)
    retried, state, kinds, _ = _look(factory, record)
    assert (retried.transfer.state, retried.transfer.attempt) == (TransferState.PENDING, 2)
    assert retried.transfer.request_id != record.transfer.request_id  # the old id is never sent again
    assert (state, kinds) == (GrantState.CLAIMED, ["payout_back"])
    # Still in the window: nothing to close.
    with factory() as uow:
        assert close_if_window_ended(uow, retried, IN_WINDOW) is False
    with factory() as uow:
        assert close_if_window_ended(uow, retried, AFTER_WINDOW) is True
        uow.commit()
    closed, state, kinds, remaining = _look(factory, record)
    assert closed.transfer.state is TransferState.RETURNED
    assert (state, kinds, remaining) == (
        GrantState.PAYOUT_FAILED,
        ["payout_back", "payout_returned"],
        FUNDED - 200,
    )


def test_a_passing_failure_heard_after_the_window_goes_straight_back_to_the_budget() -> None:
    factory, (record,) = _books(TransferState.UNKNOWN)
    _answer(factory, record, ProviderAnswer(Outcome.FAILED, reason="OVERDUE_CLOSE"), AFTER_WINDOW)
    now, state, kinds, remaining = _look(factory, record)
    assert (now.transfer.state, now.transfer.attempt) == (TransferState.RETURNED, 1)
    assert (state, kinds, remaining) == (
        GrantState.PAYOUT_FAILED,
        ["payout_back", "payout_returned"],
        FUNDED - 200,
    )


def test_an_answer_contradicting_a_final_one_changes_nothing_and_is_kept() -> None:
    factory, (record,) = _books(TransferState.SUBMITTED)
    _answer(factory, record, ProviderAnswer(Outcome.SUCCEEDED), IN_WINDOW)
    _answer(factory, record, ProviderAnswer(Outcome.FAILED, reason="ACCOUNT_FROZEN"), IN_WINDOW + 1)
    now, state, kinds, _ = _look(factory, record)
    assert (now.transfer.state, state, kinds) == (TransferState.SUCCEEDED, GrantState.PAID, ["payout_paid"])
    with factory() as uow:
        events = uow.campaigns.events("c1")  # type: ignore[attr-defined]
    assert [e["kind"] for e in events] == ["payout_anomaly"]


def test_a_pending_first_attempt_is_never_closed_by_the_window() -> None:
    factory, (record,) = _books(TransferState.PENDING)
    with factory() as uow:
        assert close_if_window_ended(uow, record, AFTER_WINDOW) is False
    assert _look(factory, record)[0].transfer.state is TransferState.PENDING


def test_a_transfer_waiting_for_the_customer_tells_them_once() -> None:
    factory, (first,) = _books(TransferState.SUBMITTED)
    with factory() as uow:
        account_id = first.account_id
        uow.purchases.add_accounts([account(account_id, email="a@example.com")], update=False)
        uow.commit()
    waiting = ProviderAnswer(Outcome.WAITING_USER, provider_ref="ref")
    _answer(factory, first, waiting, IN_WINDOW)
    _answer(factory, first, waiting, IN_WINDOW + 1)  # said again: nothing more to tell
    with factory() as uow:
        told = uow.notifications.history([account_id]).get(account_id, [])
    topic = f"payout_confirm:{first.transfer.request_id}"
    assert sorted((r.channel.value, r.topic) for r in told) == [("email", topic), ("inapp", topic)]
