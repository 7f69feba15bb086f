"""A provider's completion notice on the memory fakes (ADR 27): applied once through the same path as
``payouts sync``; a notice naming another amount, payee or rail, an unknown bill, a bill never
sent, or a replaced attempt changes nothing, and the suspicious ones are kept for a person."""

from __future__ import annotations

from dataclasses import replace

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.bootstrap import FixedClock
from pledge.domain.grant import GrantState
from pledge.domain.payout_transfers import Outcome, ProviderAnswer, TransferState
from pledge.domain.payouts import request_id
from pledge.usecases.payout_callbacks import (
    APPLIED,
    MISMATCH,
    STALE,
    UNKNOWN_BILL,
    BillNotice,
    receive_bill_notice,
)
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import UnitOfWorkFactory
from tests.contract.conftest import campaign
from tests.contract.test_payouts import _grant, _record

NOW = 2_000
PAID = ProviderAnswer(Outcome.SUCCEEDED, provider_ref="bill-1")


def _books(state: TransferState, attempt: int = 1) -> tuple[UnitOfWorkFactory, PayoutRecord]:
    """One campaign, one opened (claimed) grant, and its one transfer in ``state``."""
    factory = memory_uow_factory(MemoryStore())
    with factory() as uow:
        uow.campaigns.add(campaign("c1"))
        grant = _grant("P1")
        uow.grants.add_many([grant], [""], posting_id="issue:c1:1")
        uow.grants.flush_added()
        uow.grants.update(grant.claim(100))
        record = _record(grant, 1, state)
        if attempt > 1:
            record = replace(record, transfer=replace(record.transfer, attempt=attempt))
        uow.payouts.add_plan([record])
        uow.commit()
    return factory, record


def _notice(record: PayoutRecord, **changes: object) -> BillNotice:
    notice = BillNotice("wallet", record.transfer.request_id, record.transfer.amount_minor, "A1", PAID)
    return replace(notice, **changes)  # type: ignore[arg-type]


def _state(factory: UnitOfWorkFactory, record: PayoutRecord) -> TransferState:
    with factory() as uow:
        found = uow.payouts.get(record.id)
        assert found is not None
        return found.transfer.state


def _anomalies(factory: UnitOfWorkFactory) -> list[str]:
    with factory() as uow:
        events = uow.campaigns.events("c1")  # type: ignore[attr-defined]
    return [str(e["detail"]["detail"]) for e in events if e["kind"] == "payout_anomaly"]


def test_a_notice_about_a_sent_transfer_pays_it_once_however_often_it_comes() -> None:
    factory, record = _books(TransferState.SUBMITTED)
    assert receive_bill_notice(factory, FixedClock(NOW), _notice(record)) == APPLIED
    assert _state(factory, record) is TransferState.SUCCEEDED
    with factory() as uow:
        grant = uow.grants.get(record.transfer.grant_id)
        assert grant is not None and grant.state is GrantState.PAID
        postings = [c.transfer for c in uow.ledger.entries() if c.transfer.kind == "payout_paid"]
    assert [p.amount for p in postings] == [record.transfer.amount_minor]
    # Redelivered: the final state does not move and nothing is booked again.
    assert receive_bill_notice(factory, FixedClock(NOW + 1), _notice(record)) == APPLIED
    with factory() as uow:
        again = [c.transfer for c in uow.ledger.entries() if c.transfer.kind == "payout_paid"]
    assert again == postings
    assert _anomalies(factory) == []


def test_a_notice_naming_another_amount_payee_or_rail_changes_nothing_and_is_kept() -> None:
    factory, record = _books(TransferState.SUBMITTED)
    for wrong in (
        _notice(record, amount_minor=record.transfer.amount_minor + 1),
        _notice(record, payee="A2"),
        _notice(record, rail="wechat_transfer"),
    ):
        assert receive_bill_notice(factory, FixedClock(NOW), wrong) == MISMATCH
    assert _state(factory, record) is TransferState.SUBMITTED
    kept = _anomalies(factory)
    assert len(kept) == 3 and all("not applied" in detail for detail in kept), kept


def test_a_bill_we_do_not_know_or_never_sent_changes_nothing() -> None:
    factory, record = _books(TransferState.PENDING)
    assert receive_bill_notice(factory, FixedClock(NOW), _notice(record)) == UNKNOWN_BILL
    assert _state(factory, record) is TransferState.PENDING  # never sent: a notice cannot pay it
    for stranger in ("not-ours-0001", request_id("gr_" + "f" * 24, 1, 1)):
        assert receive_bill_notice(factory, FixedClock(NOW), _notice(record, request_id=stranger)) == (
            UNKNOWN_BILL
        )
    assert _anomalies(factory) == []


def test_a_notice_about_a_replaced_attempt_is_stale_and_a_late_success_is_kept_for_a_person() -> None:
    factory, record = _books(TransferState.PENDING, attempt=2)
    first = request_id(record.transfer.grant_id, 1, 1)
    failed = ProviderAnswer(Outcome.FAILED, reason="NOT_ENOUGH")
    assert receive_bill_notice(
        factory, FixedClock(NOW), _notice(record, request_id=first, answer=failed)
    ) == (STALE)
    assert _anomalies(factory) == []  # it only repeats what made us replace that attempt
    assert receive_bill_notice(factory, FixedClock(NOW), _notice(record, request_id=first)) == STALE
    kept = _anomalies(factory)
    assert len(kept) == 1 and "paid" in kept[0] and "attempt 2" in kept[0], kept
    assert _state(factory, record) is TransferState.PENDING
    # A notice about an attempt newer than ours is not a replaced one: we never sent it.
    third = request_id(record.transfer.grant_id, 1, 3)
    assert receive_bill_notice(factory, FixedClock(NOW), _notice(record, request_id=third)) == UNKNOWN_BILL
