"""Promise groups, stacking, why no grant and the launch shortfall over HTTP, on SQLite and PostgreSQL.

The ``scenario`` fixture has run founders-refund: P01 (A-cn-1), P03 (A-cn-2) and P10 (A-cn-5) paid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.support.data import campaign

CID, COPY = "founders-refund", "founders-refund-copy"


def start(api: Api, campaign_id: str, **changes: Any) -> dict[str, Any]:
    """Apply, simulate (the dry run an approver reads) and approve another campaign."""
    assert api.post("/v1/campaigns", "admin", campaign(id=campaign_id, **changes)).status_code == 200
    dry = api.post(f"/v1/campaigns/{campaign_id}/simulate", "approver").json()
    approved = api.post(f"/v1/campaigns/{campaign_id}/approve", "approver")
    assert approved.status_code == 200, approved.text
    return {"dry": dry, "approved": approved.json()}


def run(api: Api, campaign_id: str) -> dict[str, Any]:
    response = api.post(f"/v1/campaigns/{campaign_id}/run", "operator")
    job = api.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job
    return dict(job["result"])


def why(api: Api, account: str, campaign_id: str) -> dict[str, dict[str, Any]]:
    explained = api.get(f"/v1/accounts/{account}/eligibility", "support", campaign=campaign_id).json()
    return {p["purchase_id"]: p["why_no_grant"] for p in explained["purchases"] if "why_no_grant" in p}


def test_a_copied_campaign_pays_nothing_twice_over_http(scenario: Api) -> None:
    started = start(scenario, COPY)
    dry = started["dry"]
    assert (dry["grants"], dry["already_paid"], dry["already_paid_by"]) == (0, 3, {CID: 3})
    assert (dry["group"], dry["stacking"], started["approved"]["stacking"]) == (
        "default",
        "excluded",
        "excluded",
    )
    assert scenario.post(f"/v1/campaigns/{COPY}/launch", "operator").status_code == 200
    result = run(scenario, COPY)
    assert (result["issued"], result["already_paid"]) == (dry["grants"], dry["already_paid"])
    reasons = why(scenario, "A-cn-1", COPY)
    assert (reasons["P01"]["code"], reasons["P01"]["campaign"]) == ("already_paid", CID)
    assert reasons["P02"]["code"] == "per_account" and reasons["P02"]["purchases"] == ["P01"]
    assert why(scenario, "A-cn-4", COPY)["P05"]["code"] == "per_serial"


def test_stacking_allowed_pays_again_and_the_approver_sees_it(scenario: Api) -> None:
    started = start(scenario, COPY, stacking="allowed")
    dry = started["dry"]
    (problem,) = [p for p in dry["problems"] if p["code"] == "stacking_allowed"]
    assert problem["count"] == 3 and problem["campaigns"] == {CID: 3}
    assert "already paid by founders-refund (3) would be paid again" in problem["message"]
    assert (dry["grants"], dry["paid_again_by"], started["approved"]["stacking"]) == (3, {CID: 3}, "allowed")
    assert scenario.post(f"/v1/campaigns/{COPY}/launch", "operator").status_code == 200
    assert run(scenario, COPY)["issued"] == 3


def test_launch_with_a_shortfall_is_refused_then_accepted_and_audited(api: Api, tmp_path: Path) -> None:
    api.load_data(tmp_path)
    start(api, CID, budget="3000.00")
    before = api.counts()
    refused = api.post(f"/v1/campaigns/{CID}/launch", "operator")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("budget_shortfall", "accept_shortfall")
    assert "2 qualifying purchases would get nothing" in error["message"]
    assert "2297.00 CNY short" in error["message"]
    wrong = api.post(f"/v1/campaigns/{CID}/launch", "operator", {"accept_shortfall": 1})
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "budget_shortfall"
    assert api.counts() == before
    assert api.post(f"/v1/campaigns/{CID}/launch", "operator", {"accept_shortfall": -1}).status_code == 400
    launched = api.post(f"/v1/campaigns/{CID}/launch", "operator", {"accept_shortfall": 2})
    assert launched.status_code == 200, launched.text
    assert launched.json()["accepted_shortfall"] == {
        "purchases": 2,
        "missing": "2297.00",
        "budget": "3000.00",
        "currency": "CNY",
    }
    audit = api.get("/v1/audit", "finance", limit=100).json()["data"]
    (entry,) = [e for e in audit if e["action"] == "campaign.launch"]
    assert entry["after"]["accept_shortfall"] == 2 and entry["after"]["state"] == "active"

    # Why no grant: the budget ran out at P10, 4th of 5 candidates in issuance order.
    assert run(api, CID)["budget_exhausted"] == 2
    budget = why(api, "A-cn-2", CID)["P03"]
    assert (budget["code"], budget["position"], budget["of"], budget["purchase_id"]) == (
        "budget_exhausted",
        4,
        5,
        "P10",
    )
    assert why(api, "A-cn-1", CID)["P02"]["message"] == "the limit per account (1) was taken by purchase P01"


def test_why_not_yet_issued_over_http(scenario: Api) -> None:
    late = "P11,A-cn-3,mi-1,S11,2011-09-15T10:00:00+08:00,999.00,CNY,completed,online\n"
    header = "purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n"
    response = scenario.upload("purchases", (header + late).encode())
    assert scenario.wait_job(response.json()["id"])["status"] == "succeeded"
    reason = why(scenario, "A-cn-3", CID)["P11"]
    assert reason == {
        "code": "not_yet_run",
        "message": "not yet issued: the campaign has not run since this purchase was imported",
    }
