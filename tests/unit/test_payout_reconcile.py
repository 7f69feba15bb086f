"""``payouts reconcile`` on the memory fakes: each kind of difference between a provider's statement
and our transfers is found, and nothing is changed (ADR 27)."""

from __future__ import annotations

from datetime import date

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.errors import InputError
from pledge.domain.payout_transfers import TransferState
from pledge.entrypoints.payouts_json import reconciliation_json
from pledge.usecases.payout_reconcile import StatementLine, reconcile_payouts
from tests.contract.conftest import campaign
from tests.contract.test_payouts import _grant, _record


def test_every_kind_of_difference_is_found_and_nothing_changes() -> None:
    factory = memory_uow_factory(MemoryStore())
    with factory() as uow:
        uow.campaigns.add(campaign("c1"))
        grants = [_grant(p) for p in ("P1", "P2", "P3", "P4")]
        uow.grants.add_many(grants, [""] * 4, posting_id="issue:c1:1")
        uow.grants.flush_added()
        records = [
            _record(grants[0], 1, TransferState.SUCCEEDED),  # on the statement: matched
            _record(grants[1], 1, TransferState.SUCCEEDED),  # on it for another amount
            _record(grants[2], 1, TransferState.SUCCEEDED),  # not on it: missing at the provider
            _record(grants[3], 1, TransferState.FAILED),  # paid by the provider: missing in our books
        ]
        uow.payouts.add_plan(records)
        uow.commit()
    ref = [r.transfer.request_id for r in records]
    lines = [
        StatementLine(ref[0], 100, "CNY", "SUCCESS", "2021-08-10T12:00:00+08:00"),
        StatementLine(ref[1], 90, "CNY", "credited", "2021-08-10T12:00:00+08:00"),
        StatementLine(ref[3], 100, "CNY", "SUCCESS", "2021-08-10T13:00:00+08:00"),
        StatementLine("surplus-0001", 5_00, "CNY", "SUCCESS", "2021-08-10T14:00:00+08:00"),
        StatementLine("never-paid", 1_00, "CNY", "FAIL", "not a date"),
    ]
    result = reconcile_payouts(factory, "wallet", lines)
    assert result.matched == 1 and result.days == (date(2021, 8, 10),)
    assert [m.reference for m in result.amount_mismatch] == [ref[1]]
    assert (result.amount_mismatch[0].ours_minor, result.amount_mismatch[0].theirs_minor) == (100, 90)
    assert sorted(m.reference for m in result.missing_in_ledger) == sorted([ref[3], "surplus-0001"])
    assert {m.our_state for m in result.missing_in_ledger} == {TransferState.FAILED, None}
    assert [m.reference for m in result.missing_at_provider] == [ref[2]]
    assert result.differences == 4
    shown = reconciliation_json(result)
    assert shown["days"] == ["2021-08-10"] and shown["amount_mismatch"][0] == {
        "reference": ref[1], "transfer": records[1].id, "ours": "1.00", "theirs": "0.90", "currency": "CNY"
    }  # fmt: skip
    assert {m["our_state"] for m in shown["missing_in_ledger"]} == {"failed", None}
    with factory() as uow:
        assert [uow.payouts.by_request(r) for r in ref] == records  # nothing changed


def test_an_unknown_rail_is_refused_naming_it() -> None:
    with pytest.raises(InputError) as caught:
        reconcile_payouts(memory_uow_factory(MemoryStore()), "paypal", [])
    assert caught.value.param == "rail" and "paypal" in caught.value.message
