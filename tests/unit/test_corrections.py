"""Corrections on the in-memory fakes (ADR 14): an update revokes or claws back what a purchase no
longer earns; support revokes one unopened grant."""

from __future__ import annotations

from typing import Any

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.errors import InputError, InvariantViolation, NotFoundError, RefusedError
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import clawbacks_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.corrections import list_clawbacks, revoke_grant
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant, expire_grants, grant_json
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.report import campaign_report
from tests.unit.test_usecases import (
    CID,
    CLOCK,
    LATER,
    Clock,
    World,
    account_records,
    grants_by_purchase,
    launch,
    purchase_records,
    rules,
)

LATE = Clock(CLOCK.instant_us + 3_600_000_000)  # an hour after issuance
FIX = Corrector(rules, LATE, "ops.import")


@pytest.fixture
def issued() -> World:
    """Scenario A's data, launched and run: P01, P03 and P10 hold grants (1999.00, 1799.00, 1499.00)."""
    store = MemoryStore()
    world = World(store, memory_uow_factory(store))
    import_accounts(world.uow, [account_records()])
    import_purchases(world.uow, [purchase_records()])
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert sorted(grants_by_purchase(world)) == ["P01", "P03", "P10"]
    return world


def corrected(w: World, **changes: dict[str, Any]) -> ImportResult:
    """Re-import every purchase, with ``changes[purchase_id]`` applied, as an update."""
    rows: list[PurchaseRecord] = [p._replace(**changes.get(p.purchase_id, {})) for p in purchase_records()]
    return import_purchases(w.uow, [rows[:4], rows[4:]], update=True, corrector=FIX)


def test_a_returned_purchase_revokes_its_unopened_grant_and_returns_the_value(issued: World) -> None:
    before = report_json(campaign_report(issued.uow, CID))
    result = corrected(issued, P03={"status": "returned"})
    assert result == ImportResult(imported=1, unchanged=9, updated=1, revoked=1, clawbacks=0)
    grant = grants_by_purchase(issued)["P03"]
    assert (grant["state"], grant["revoked_reason"]) == ("revoked", "purchase_returned")
    assert grant["revoked_at"] == "2021-08-10T05:00:00Z"
    after = report_json(campaign_report(issued.uow, CID))
    assert after["budget_remaining"] == "49996502.00" != before["budget_remaining"]  # 1799.00 back
    assert (after["revoked_amount"], after["grants"]["revoked"]) == ("1799.00", 1)
    assert after["clawbacks"] == {"open": 0, "open_amount": "0.00"}
    assert verify_ledger(issued.uow).ok
    revoke_entries = [e for e in issued.store.ledger if e.transfer.kind == "revoke"]
    assert [(e.transfer.ref, e.transfer.amount) for e in revoke_entries] == [(grant["id"], 179900)]
    with pytest.raises(RefusedError) as refused:
        claim_grant(issued.uow, LATE, grant["id"])
    assert refused.value.code == "grant_revoked"
    assert expire_grants(issued.uow, Clock(LATER)).expired == 2  # P01 and P10: not the revoked one
    assert verify_ledger(issued.uow).ok
    events = [e for e in issued.store.events if e[1] == "grants.corrected"]
    assert [(e[2], e[4]) for e in events] == [("ops.import", '{"clawbacks": 0, "revoked": 1}')]


def test_the_same_update_again_changes_nothing(issued: World) -> None:
    corrected(issued, P03={"status": "refunded"})
    entries = len(issued.store.ledger)
    again = corrected(issued, P03={"status": "refunded"})
    assert again == ImportResult(imported=0, unchanged=10, updated=0, revoked=0, clawbacks=0)
    assert len(issued.store.ledger) == entries
    assert grants_by_purchase(issued)["P03"]["revoked_reason"] == "purchase_refunded"


def test_an_opened_grant_becomes_a_claw_back_case_never_silently_kept(issued: World) -> None:
    opened = grant_json(claim_grant(issued.uow, CLOCK, grants_by_purchase(issued)["P01"]["id"]))
    result = corrected(issued, P01={"status": "refunded"})
    assert (result.revoked, result.clawbacks) == (0, 1)
    assert grants_by_purchase(issued)["P01"]["state"] == "claimed"  # the money is with the customer
    cases = clawbacks_json(list_clawbacks(issued.uow, campaign_id=CID))["data"]
    assert [(c["grant_id"], c["account_id"], c["amount"], c["reason"], c["state"]) for c in cases] == [
        (opened["id"], "A-cn-1", "1999.00", "purchase_refunded", "open")
    ]
    assert cases[0]["created_at"] == "2021-08-10T05:00:00Z"
    assert report_json(campaign_report(issued.uow, CID))["clawbacks"] == {"open": 1, "open_amount": "1999.00"}
    assert verify_ledger(issued.uow).ok
    # Changed again (returned now): still one case, one receivable.
    assert corrected(issued, P01={"status": "returned"}).clawbacks == 0
    assert len(clawbacks_json(list_clawbacks(issued.uow))["data"]) == 1
    assert verify_ledger(issued.uow).ok
    explained = explanation_json(explain_account(issued.uow, rules, "A-cn-1", CID))
    p01 = next(p for p in explained["purchases"] if p["purchase_id"] == "P01")
    assert not p01["qualifies"] and p01["grant"]["state"] == "claimed"
    assert "claw-back case" in p01["note"] and p01["clawback"]["id"] == cases[0]["id"]


def test_a_case_missing_from_the_ledger_fails_verify(issued: World) -> None:
    claim_grant(issued.uow, CLOCK, grants_by_purchase(issued)["P01"]["id"])
    corrected(issued, P01={"status": "cancelled"})
    issued.store.ledger = [e for e in issued.store.ledger if e.transfer.kind != "clawback"]
    problems = verify_ledger(issued.uow).problems
    assert any("open claw-back cases total 199900 but the ledger's receivable is 0" in p for p in problems)


def test_a_price_below_the_grant_or_an_account_leaving_cn_revokes_with_a_change(issued: World) -> None:
    result = corrected(issued, P10={"price_minor": 100000}, P01={"channel": "store"})
    assert (result.updated, result.revoked) == (2, 1)  # P01 changed but still qualifies
    by_purchase = grants_by_purchase(issued)
    assert (by_purchase["P10"]["state"], by_purchase["P10"]["revoked_reason"]) == (
        "revoked",
        "purchase_changed",
    )
    assert by_purchase["P01"]["state"] == "issued"
    moved = [a._replace(region="HK") if a.account_id == "A-cn-2" else a for a in account_records()]
    result = import_accounts(issued.uow, [moved], update=True, corrector=FIX)
    assert (result.updated, result.revoked, result.clawbacks) == (1, 1, 0)
    assert grants_by_purchase(issued)["P03"]["revoked_reason"] == "purchase_changed"
    assert campaign_report(issued.uow, CID).budget_remaining_minor == 4999800100  # only P01's 1999.00 out
    assert verify_ledger(issued.uow).ok


def test_explain_shows_a_revoked_grant_with_its_reason(issued: World) -> None:
    corrected(issued, P03={"status": "returned"})
    explained = explanation_json(explain_account(issued.uow, rules, "A-cn-2", CID))
    (p03,) = explained["purchases"]
    assert not p03["qualifies"] and p03["grant"]["state"] == "revoked"
    assert p03["note"] == "grant revoked at 2021-08-10T05:00:00Z: purchase_returned"


def test_an_update_without_a_corrector_is_refused_before_anything_changes(issued: World) -> None:
    with pytest.raises(InvariantViolation):
        import_accounts(issued.uow, [[AccountRecord("A-cn-1", "HK", 0)]], update=True)
    assert issued.store.accounts["A-cn-1"].region == "CN"


def test_support_revokes_an_unopened_grant_once_and_refuses_the_rest(issued: World) -> None:
    grants = grants_by_purchase(issued)
    revoked = revoke_grant(issued.uow, LATE, grants["P03"]["id"], "  duplicate account  ", "cs.chen")
    assert (revoked.state.value, revoked.revoked_reason) == ("revoked", "duplicate account")
    entries = len(issued.store.ledger)
    again = revoke_grant(issued.uow, Clock(LATER), grants["P03"]["id"], "another reason", "cs.chen")
    assert again == revoked and len(issued.store.ledger) == entries  # idempotent: nothing moves twice
    assert report_json(campaign_report(issued.uow, CID))["budget_remaining"] == "49996502.00"
    (event,) = [e for e in issued.store.events if e[1] == "grant.revoked"]
    assert (event[2], event[3]) == ("cs.chen", LATE.instant_us)
    assert '"reason": "duplicate account"' in event[4]
    claim_grant(issued.uow, CLOCK, grants["P01"]["id"])
    with pytest.raises(RefusedError) as refused:
        revoke_grant(issued.uow, LATE, grants["P01"]["id"], "customer asked", "cs.chen")
    assert refused.value.code == "grant_claimed"
    with pytest.raises(NotFoundError):
        revoke_grant(issued.uow, LATE, "gr_nope", "customer asked", "cs.chen")
    with pytest.raises(InputError) as bad:
        revoke_grant(issued.uow, LATE, grants["P10"]["id"], "   ", "cs.chen")
    assert bad.value.param == "reason"
    assert verify_ledger(issued.uow).ok
