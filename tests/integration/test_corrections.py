"""Corrections through the use cases on SQLite and PostgreSQL (ADR 14): an update import revokes an
unopened grant its purchase no longer earns, or opens a claw-back case for an opened one."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.grant import GrantState
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.timeutil import US_PER_DAY, parse_instant
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import clawbacks_json, grants_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.corrections import list_clawbacks, revoke_grant
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant, expire_grants, grant_json, list_grants
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.report import campaign_report
from tests.support.data import ACCOUNTS, PURCHASES, campaign, write_files

NOW = parse_instant("2021-08-10T12:00:00+08:00")
CID = "founders-refund"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> App:
    app = App(db_url, NOW)
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    apply_campaign(app.uow, app.rules, app.clock, campaign(), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    assert run_campaign(app.uow, app.rules, app.clock, CID, "ops").issued == 3
    return app


def grants_of(app: App) -> dict[str, dict[str, object]]:
    return {str(g["purchase_id"]): g for g in grants_json(list_grants(app.uow, campaign_id=CID))["data"]}


def updated(app: App, folder: Path, changes: dict[str, dict[str, str]]) -> ImportResult:
    """Write scenario A's purchases with ``changes`` (purchase id -> {"status" | "price": ...}) and
    import them with --update."""
    rows = []
    for pid, account, sku, serial, at, price, status in PURCHASES:
        change = changes.get(pid, {})
        rows.append((pid, account, sku, serial, at, change.get("price", price), change.get("status", status)))
    folder.mkdir(exist_ok=True)
    _, purchases = write_files(folder, rows)
    return import_purchases(
        app.uow, read_purchases(purchases), update=True, corrector=Corrector(app.rules, app.clock, "ops.zhao")
    )


def test_returned_and_refunded_purchases_revoke_or_claw_back(app: App, tmp_path: Path) -> None:
    before = report_json(campaign_report(app.uow, CID))
    opened = grant_json(claim_grant(app.uow, app.clock, str(grants_of(app)["P01"]["id"])))
    result = updated(app, tmp_path / "v2", {"P03": {"status": "returned"}, "P01": {"status": "refunded"}})
    assert result == ImportResult(imported=2, unchanged=8, updated=2, revoked=1, clawbacks=1)

    grants = grants_of(app)
    assert (grants["P03"]["state"], grants["P03"]["revoked_reason"]) == ("revoked", "purchase_returned")
    assert grants["P03"]["revoked_at"] == "2021-08-10T04:00:00Z"
    assert grants["P01"]["state"] == "claimed" and grants["P10"]["state"] == "issued"
    report = report_json(campaign_report(app.uow, CID))
    assert (before["budget_remaining"], report["budget_remaining"]) == ("49994703.00", "49996502.00")
    assert report["clawbacks"] == {"open": 1, "open_amount": "1999.00"}
    (case,) = clawbacks_json(list_clawbacks(app.uow, campaign_id=CID))["data"]
    assert (case["grant_id"], case["account_id"], case["amount"], case["reason"], case["state"]) == (
        opened["id"],
        "A-cn-1",
        "1999.00",
        "purchase_refunded",
        "open",
    )
    assert clawbacks_json(list_clawbacks(app.uow, campaign_id="another"))["data"] == []
    verified = verify_ledger(app.uow)
    assert verified.ok, verified.problems

    with pytest.raises(RefusedError) as refused:
        claim_grant(app.uow, app.clock, str(grants["P03"]["id"]))
    assert refused.value.code == "grant_revoked"
    later = App(app.url, NOW + 31 * US_PER_DAY)
    assert expire_grants(later.uow, later.clock).expired == 1  # P10 only: a revoked grant never expires
    later.close()
    assert verify_ledger(app.uow).ok

    explained = explanation_json(explain_account(app.uow, app.rules, "A-cn-1", CID))
    p01 = next(p for p in explained["purchases"] if p["purchase_id"] == "P01")
    assert not p01["qualifies"] and p01["grant"]["state"] == "claimed" and "claw-back case" in p01["note"]
    (p03,) = explanation_json(explain_account(app.uow, app.rules, "A-cn-2", CID))["purchases"]
    assert p03["note"] == "grant revoked at 2021-08-10T04:00:00Z: purchase_returned"

    again = updated(app, tmp_path / "v3", {"P03": {"status": "returned"}, "P01": {"status": "refunded"}})
    assert again == ImportResult(imported=0, unchanged=10, updated=0, revoked=0, clawbacks=0)
    assert len(clawbacks_json(list_clawbacks(app.uow))["data"]) == 1


def test_a_lower_price_or_an_account_leaving_cn_revokes(app: App, tmp_path: Path) -> None:
    result = updated(app, tmp_path / "v2", {"P10": {"price": "1000.00"}, "P02": {"status": "returned"}})
    assert (result.updated, result.revoked) == (2, 1)  # P02 had no grant
    assert grants_of(app)["P10"]["revoked_reason"] == "purchase_changed"
    moved = [
        AccountRecord(a, "HK" if a == "A-cn-2" else region, parse_instant(at)) for a, region, at in ACCOUNTS
    ]
    result = import_accounts(app.uow, [moved], update=True, corrector=Corrector(app.rules, app.clock))
    assert (result.updated, result.revoked, result.clawbacks) == (1, 1, 0)
    assert grants_of(app)["P03"]["state"] == "revoked"
    assert report_json(campaign_report(app.uow, CID))["budget_remaining"] == "49998001.00"
    assert verify_ledger(app.uow).ok


def test_support_revokes_one_unopened_grant(app: App) -> None:
    grants = grants_of(app)
    clock = FixedClock(NOW + US_PER_DAY)
    revoked = revoke_grant(app.uow, clock, str(grants["P10"]["id"]), "duplicate account", "cs.chen")
    assert (revoked.state.value, revoked.revoked_reason) == ("revoked", "duplicate account")
    assert revoke_grant(app.uow, app.clock, str(grants["P10"]["id"]), "again", "cs.chen") == revoked
    claim_grant(app.uow, app.clock, str(grants["P01"]["id"]))
    with pytest.raises(RefusedError) as refused:
        revoke_grant(app.uow, clock, str(grants["P01"]["id"]), "asked", "cs.chen")
    assert refused.value.code == "grant_claimed"
    assert report_json(campaign_report(app.uow, CID))["budget_remaining"] == "49996202.00"
    assert verify_ledger(app.uow).ok


def many_purchases(n: int) -> tuple[list[AccountRecord], list[PurchaseRecord]]:
    at = parse_instant("2011-10-01T10:00:00+08:00")
    accounts = [AccountRecord(f"B{i:05d}", "CN", 0) for i in range(n)]
    purchases = [
        PurchaseRecord(f"Q{i:05d}", f"B{i:05d}", "mi-1", f"T{i:05d}", at + i, 100, "CNY", "completed", "")
        for i in range(n)
    ]
    return accounts, purchases


def test_a_large_update_corrects_across_batches_and_a_bad_row_undoes_it_all(db_url: str) -> None:
    app = App(db_url, NOW)
    upgrade(app.engine)
    accounts, purchases = many_purchases(1_200)
    import_accounts(app.uow, [accounts])
    import_purchases(app.uow, [purchases[:600], purchases[600:]])
    apply_campaign(app.uow, app.rules, app.clock, campaign(), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    assert run_campaign(app.uow, app.rules, app.clock, CID, "ops").issued == 1_200
    fix = Corrector(app.rules, app.clock)
    returned = [p._replace(status="returned") if i % 3 else p for i, p in enumerate(purchases)]

    bad = [*returned[700:], returned[0]._replace(account_id="GHOST")]
    with pytest.raises(InputError):
        import_purchases(app.uow, [returned[:700], bad], update=True, corrector=fix)
    assert report_json(campaign_report(app.uow, CID))["grants"]["revoked"] == 0  # nothing half-applied

    result = import_purchases(app.uow, [returned[:700], returned[700:]], update=True, corrector=fix)
    assert (result.updated, result.revoked, result.clawbacks) == (800, 800, 0)
    report = report_json(campaign_report(app.uow, CID))
    assert (report["grants"]["revoked"], report["grants"]["issued"]) == (800, 400)
    assert report["budget_remaining"] == "49999600.00"  # 400 grants of 1.00 still out
    assert verify_ledger(app.uow).ok
    app.close()


def _waiting(conn: Connection, name: str) -> int:
    """Backends of this test (by application name) waiting for a lock."""
    count = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
        (name,),
    ).scalar_one()
    conn.rollback()  # pg_stat_activity is a snapshot per transaction: the next look takes a new one
    return int(count)


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the race did not line up"
        time.sleep(0.02)


def test_a_claim_committed_during_the_correction_becomes_a_claw_back(
    postgres_url: str, tmp_path: Path
) -> None:
    """The import finds P01's grant unopened; a claim commits before it acts: a case, never a revocation.

    The claim is held on the ledger's head lock (taken by this test) after locking the grant; the
    import then waits on the grant; the test lets go, the claim commits, the import goes on.
    """
    name = f"corr_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_url}&application_name={name}"
    app = App(url, NOW)
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    apply_campaign(app.uow, app.rules, app.clock, campaign(), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    p01 = str(grants_of(app)["P01"]["id"])
    rows = [(*row[:6], "refunded" if row[0] == "P01" else row[6]) for row in PURCHASES]
    (tmp_path / "v2").mkdir()
    _, changed = write_files(tmp_path / "v2", rows)

    results: dict[str, Any] = {}
    with app.engine.connect() as holder, app.engine.connect() as watcher:
        holder.begin()
        holder.exec_driver_sql("SELECT seq FROM ledger_head WHERE id = 1 FOR UPDATE")
        claim = threading.Thread(target=lambda: results.update(claim=claim_grant(app.uow, app.clock, p01)))
        claim.start()
        _until(lambda: _waiting(watcher, name) == 1)  # the claim holds the grant, waits for the ledger
        fix = Corrector(app.rules, app.clock)
        update = threading.Thread(
            target=lambda: results.update(
                update=import_purchases(app.uow, read_purchases(changed), update=True, corrector=fix)
            )
        )
        update.start()
        _until(lambda: _waiting(watcher, name) == 2)  # the import waits for the grant
        holder.rollback()
        claim.join(30)
        update.join(30)
    assert results["claim"].state is GrantState.CLAIMED
    assert (results["update"].revoked, results["update"].clawbacks) == (0, 1)
    assert grants_of(app)["P01"]["state"] == "claimed"
    assert [c["grant_id"] for c in clawbacks_json(list_clawbacks(app.uow))["data"]] == [p01]
    verified = verify_ledger(app.uow)
    assert verified.ok, verified.problems
    app.close()
