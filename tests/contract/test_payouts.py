"""The ``PayoutTransfers`` port's look-ups added for callbacks, reports and reconciliation (ADR 27),
and the grant payout states, on each store; a paying grant is never expired."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.payout_transfers import Transfer, TransferState
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import campaign

DAY = date(2021, 8, 10)


def _grant(purchase_id: str) -> Grant:
    return Grant(
        grant_id("c1", purchase_id), "c1", 1, "A1", purchase_id, 300, "CNY", GrantState.ISSUED, 10, 1_000
    )


def _record(grant: Grant, seq: int, state: TransferState, amount: int = 100) -> PayoutRecord:
    transfer = Transfer(grant.id, seq, 1, "wallet", amount, "CNY", DAY, state)
    sent = DAY if state is not TransferState.PENDING else None
    return PayoutRecord(transfer, "c1", grant.account_id, 1, sent, 5, 5)


def test_transfers_by_request_grant_campaign_and_day(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    paying, other = _grant("P1"), _grant("P2")
    uow.grants.add_many([paying, other], ["", ""], posting_id="issue:c1:1")
    uow.grants.flush_added()
    records = [
        _record(paying, 1, TransferState.SUCCEEDED),
        _record(paying, 2, TransferState.FAILED, 150),
        _record(paying, 3, TransferState.PENDING, 50),
        _record(other, 1, TransferState.SUCCEEDED, 300),
    ]
    uow.payouts.add_plan(records)
    assert uow.payouts.by_request(records[1].transfer.request_id) == records[1]
    assert uow.payouts.by_request("gr" + "0" * 29) is None
    wanted = [records[0].transfer.request_id, records[3].transfer.request_id, "nothing"]
    assert uow.payouts.by_requests(wanted) == {r.transfer.request_id: r for r in (records[0], records[3])}
    assert uow.payouts.of_grant(paying.id) == records[:3]
    assert uow.payouts.campaign_totals("c1") == {"succeeded": 400, "failed": 150, "pending": 50}
    assert uow.payouts.succeeded_sent_between("wallet", DAY, DAY) == [
        r for r in sorted(records, key=lambda r: r.id) if r.transfer.state is TransferState.SUCCEEDED
    ]
    assert uow.payouts.succeeded_sent_between("wechat_transfer", DAY, DAY) == []
    uow.payouts.update(
        replace(records[2], transfer=replace(records[2].transfer, state=TransferState.RETURNED))
    )
    assert uow.payouts.campaign_totals("c1")["returned"] == 50


def test_grant_payout_states_are_stored_and_a_paying_grant_never_expires(uow: UnitOfWork) -> None:
    uow.campaigns.add(campaign("c1"))
    grants = [_grant(p) for p in ("P1", "P2", "P3")]
    uow.grants.add_many(grants, ["", "", ""], posting_id="issue:c1:1")
    uow.grants.flush_added()
    paying = grants[0].claim(20).start_paying()
    failed = grants[1].claim(20).start_paying().fail_payout(30)
    paid = grants[2].claim(20).start_paying().pay(30)
    for grant in (paying, failed, paid):
        uow.grants.update(grant)
        assert uow.grants.get(grant.id) == grant
    assert [g.state.value for g in (paying, failed, paid)] == ["paying", "payout_failed", "paid"]
    assert uow.grants.expire_due("c1", 10_000) == []  # opened: past their expiry, never expired
