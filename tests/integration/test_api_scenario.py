"""Scenario A over HTTP on SQLite and PostgreSQL: the same use cases, results and errors as the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import update

from pledge.adapters.sqlalchemy.api_tables import audit_log
from pledge.domain.errors import RefusedError
from pledge.domain.timeutil import parse_instant
from pledge.usecases.campaigns import approve_campaign
from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.support.data import campaign

CID = "founders-refund"


def test_scenario_a_over_http(api: Api, tmp_path: Path) -> None:
    api.load_data(tmp_path)
    yaml_body = yaml.safe_dump(campaign(), allow_unicode=True).encode()
    applied = api.http.post(
        "/v1/campaigns", content=yaml_body, headers=api.headers("admin", Content_Type="application/yaml")
    )
    assert applied.status_code == 200, applied.text
    assert (applied.json()["version"], applied.json()["changed"]) == (1, True)
    # The same terms as JSON change nothing (one canonical content hash).
    again = api.post("/v1/campaigns", "admin", campaign()).json()
    assert (again["changed"], again["content_hash"]) == (False, applied.json()["content_hash"])

    sim = api.post(f"/v1/campaigns/{CID}/simulate", "approver", {"near_misses": 5, "widen_days": 1}).json()
    assert (sim["grants"], sim["amount"], sim["currency"]) == (3, "5297.00", "CNY")
    assert any(m["purchase_id"] == "P04" and m["distance_days"] == 1 for m in sim["near_misses"])

    # Four-eyes across keys: an admin key authored it, so only another key may approve;
    # the approver scope can, and the recorded approver names its key.
    approved = api.post(f"/v1/campaigns/{CID}/approve", "approver", {"content_hash": sim.get("content_hash")})
    assert approved.status_code == 200, approved.text
    assert api.key_ids["approver"] in approved.json()["approved_by"]
    refused = api.post(f"/v1/campaigns/{CID}/run", "operator")
    assert refused.status_code == 202
    failed = api.wait_job(refused.json()["id"])
    assert (failed["status"], failed["error"]["code"]) == ("failed", "not_active")

    assert api.post(f"/v1/campaigns/{CID}/launch", "operator").json()["state"] == "active"
    job = api.run()
    assert job["status"] == "succeeded"
    assert (job["result"]["issued"], job["result"]["amount"]) == (3, "5297.00")
    assert api.run()["result"]["issued"] == 0  # re-running issues nothing twice

    mine = api.get("/v1/grants", "customer").json()
    assert [g["account_id"] for g in mine["data"]] == ["A-cn-1"]
    grant = mine["data"][0]
    claimed = api.post(f"/v1/grants/{grant['id']}/claim", "customer").json()
    assert claimed["state"] == "claimed"
    assert api.post(f"/v1/grants/{grant['id']}/claim", "customer").json() == claimed

    explained = api.get("/v1/accounts/A-cn-3/eligibility", "support", campaign=CID).json()
    assert explained["qualifies"] is False
    assert explained["purchases"][0]["conditions"][0]["name"] == "purchased"

    api.clock.instant_us = parse_instant("2021-09-20T00:00:00Z")
    assert api.post("/v1/grants/expire", "operator").json()["expired"] == 2
    report = api.get(f"/v1/campaigns/{CID}/report", "finance").json()
    assert (report["issued_amount"], report["claimed_amount"], report["expired_amount"]) == (
        "5297.00",
        "1999.00",
        "3298.00",
    )
    assert api.get("/v1/ledger/verify", "finance").json()["ok"] is True

    audit = api.get("/v1/audit", "finance", limit=100).json()["data"]
    actions = [e["action"] for e in audit]
    for action in ("accounts.import", "campaign.apply", "campaign.approve", "campaign.run", "grant.claim"):
        assert action in actions
    approval = next(e for e in audit if e["action"] == "campaign.approve")
    assert approval["api_key_id"] == api.key_ids["approver"]
    assert (approval["before"]["state"], approval["after"]["state"]) == ("draft", "approved")
    assert approval["request_id"].startswith("req_")
    assert api.get("/v1/audit/verify", "finance").json()["ok"] is True


def test_the_author_key_cannot_approve(api: Api, tmp_path: Path) -> None:
    """Four-eyes holds per key: give the author key approver rights and it is still refused."""
    api.load_data(tmp_path)
    assert api.post("/v1/campaigns", "admin", campaign()).status_code == 200
    author = api.key_ids["admin"]
    # Approving as the author key's actor is refused by the use case itself.
    versions = api.get(f"/v1/campaigns/{CID}/report", "finance").json()["versions"]
    assert author in versions[0]["author"]
    with pytest.raises(RefusedError) as refused_error:
        approve_campaign(api.app.uow, api.app.rules, api.clock, CID, versions[0]["author"])
    assert refused_error.value.code == "four_eyes"
    refused = api.post(f"/v1/campaigns/{CID}/approve", "admin")
    assert refused.status_code == 403


def test_refusals_are_409_and_not_found_is_404(scenario: Api) -> None:
    again = scenario.post(f"/v1/campaigns/{CID}/approve", "approver")
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "refused_error"
    missing = scenario.post("/v1/campaigns/nope/launch", "operator")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "campaign_not_found")
    bad = scenario.post("/v1/campaigns", "admin", campaign(budget="-1"))
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"


def test_grants_list_pages_with_cursors(scenario: Api) -> None:
    first = scenario.get("/v1/grants", "finance", campaign=CID, limit=2).json()
    assert (first["object"], first["has_more"], len(first["data"]), first["url"]) == (
        "list",
        True,
        2,
        "/v1/grants",
    )
    rest = scenario.get("/v1/grants", "finance", campaign=CID, starting_after=first["data"][-1]["id"]).json()
    assert (rest["has_more"], len(rest["data"])) == (False, 1)
    one = scenario.get(f"/v1/grants/{rest['data'][0]['id']}", "support").json()
    assert one == rest["data"][0]


def test_a_bad_import_fails_its_job_and_writes_nothing(api: Api, tmp_path: Path) -> None:
    api.load_data(tmp_path)
    before = api.counts()
    body = (
        b"purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n"
        b"X1,A-cn-1,mi-1,S1,2011-10-01T10:00:00+08:00,1999.00,CNY,completed,web\n"
        b"X2,A-cn-1,mi-1,S2,2011-10-01T10:00:00,1999.00,CNY,completed,web\n"
    )
    job = api.wait_job(api.upload("purchases", body).json()["id"])
    assert job["status"] == "failed"
    assert "row 2" in job["error"]["message"] and "purchased_at" in job["error"]["message"]
    after = api.counts()
    assert after["purchases"] == before["purchases"]
    # A header without the required columns is refused at once, before any job exists.
    header = api.upload("purchases", b"purchase_id,account_id\nX1,A-cn-1\n")
    assert (header.status_code, header.json()["error"]["code"]) == (400, "missing_column")


def test_one_account_and_one_purchase(scenario: Api) -> None:
    account = scenario.get("/v1/accounts/A-cn-1", "support").json()
    assert (account["region"], [p["id"] for p in account["purchases"]]) == ("CN", ["P01", "P02"])
    purchase = scenario.get("/v1/purchases/P03", "operator").json()
    assert (purchase["price"], purchase["account_id"]) == ("1799.00", "A-cn-2")
    assert scenario.get("/v1/purchases/P03", "customer").status_code == 404  # A-cn-2's purchase
    assert scenario.get("/v1/purchases/P01", "customer").status_code == 200


def test_audit_verify_detects_an_edit(scenario: Api) -> None:
    assert scenario.get("/v1/audit/verify", "admin").json()["ok"] is True
    with scenario.app.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="someone else"))
    broken = scenario.get("/v1/audit/verify", "admin").json()
    assert broken["ok"] is False
    assert "audit entry 2" in broken["problems"][0]
