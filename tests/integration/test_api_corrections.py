"""Corrections over real HTTP on SQLite and PostgreSQL (ADR 14): an update import revokes or claws
back, support revokes with a reason, a revoked envelope cannot be opened and /me says why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.support.data import PURCHASES, write_files


def grants_of(api: Api) -> dict[str, dict[str, Any]]:
    listed = api.get("/v1/grants", "operator", campaign="founders-refund", limit=100).json()
    return {g["purchase_id"]: g for g in listed["data"]}


def upload_update(api: Api, folder: Path, statuses: dict[str, str]) -> dict[str, Any]:
    rows = [(*row[:6], statuses.get(row[0], row[6])) for row in PURCHASES]
    folder.mkdir()
    _, purchases = write_files(folder, rows)
    response = api.http.post(
        "/v1/purchases/import",
        params={"update": "true"},
        content=purchases.read_bytes(),
        headers=api.headers("operator", Content_Type="text/csv"),
    )
    assert response.status_code == 202, response.text
    job = api.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job
    return dict(job["result"])


def test_an_update_import_revokes_and_claws_back(scenario: Api, tmp_path: Path) -> None:
    opened = scenario.post(f"/v1/grants/{grants_of(scenario)['P01']['id']}/claim", "customer")
    assert opened.status_code == 200, opened.text
    result = upload_update(scenario, tmp_path / "v2", {"P01": "refunded", "P03": "returned"})
    assert {k: result[k] for k in ("updated", "revoked", "clawbacks")} == {
        "updated": 2,
        "revoked": 1,
        "clawbacks": 1,
    }

    p03 = grants_of(scenario)["P03"]
    assert (p03["state"], p03["revoked_reason"]) == ("revoked", "purchase_returned")
    refused = scenario.post(f"/v1/grants/{p03['id']}/claim", "customer2")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "grant_revoked"

    cases = scenario.get("/v1/clawbacks", "finance", campaign="founders-refund").json()
    assert cases["url"] == "/v1/clawbacks" and not cases["has_more"]
    (case,) = cases["data"]
    assert (case["object"], case["grant_id"], case["amount"], case["reason"], case["state"]) == (
        "clawback",
        opened.json()["id"],
        "1999.00",
        "purchase_refunded",
        "open",
    )
    assert scenario.get("/v1/clawbacks", "customer").status_code == 403
    report = scenario.get("/v1/campaigns/founders-refund/report", "finance").json()
    assert report["clawbacks"] == {"open": 1, "open_amount": "1999.00"}
    verified = scenario.get("/v1/ledger/verify", "finance").json()
    assert verified["ok"], verified["problems"]


def test_support_revokes_with_a_reason_once_and_the_customer_sees_why(scenario: Api) -> None:
    grants = grants_of(scenario)
    path = f"/v1/grants/{grants['P03']['id']}/revoke"
    assert scenario.post(path, "customer2", {"reason": "mine"}).status_code == 403
    bad = scenario.post(path, "support", {"reason": "  "})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "reason"
    first = scenario.post(path, "support", {"reason": "duplicate account"}, Idempotency_Key="rv-1")
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["state"], body["revoked_reason"]) == ("revoked", "duplicate account")
    assert body["revoked_at"] == "2021-08-10T04:00:00Z"
    replay = scenario.post(path, "support", {"reason": "duplicate account"}, Idempotency_Key="rv-1")
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == body
    again = scenario.post(path, "operator", {"reason": "another"})  # a new request: the same grant
    assert again.status_code == 200 and again.json() == body
    audit = scenario.get("/v1/audit", "finance", limit=100).json()["data"]
    revokes = [e for e in audit if e["action"] == "grant.revoke"]
    assert revokes and revokes[0]["actor"].startswith("support (key_")
    assert revokes[0]["after"]["revoked_reason"] == "duplicate account"

    opened = scenario.post(f"/v1/grants/{grants['P01']['id']}/claim", "customer")
    assert opened.status_code == 200
    refused = scenario.post(f"/v1/grants/{grants['P01']['id']}/revoke", "support", {"reason": "asked"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "grant_claimed"
    missing = scenario.post("/v1/grants/gr_000000000000000000000000/revoke", "support", {"reason": "x"})
    assert missing.status_code == 404

    me = signed_in(scenario, "customer2")
    page = me.get("/me/")
    assert page.status_code == 200
    assert "withdrawn on" in page.text and "duplicate account" in page.text
    me.close()


def signed_in(api: Api, who: str) -> httpx.Client:
    client = httpx.Client(base_url=api.url, timeout=60, headers={"Accept-Language": "en"})
    form = client.get("/me/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token, form[:300]
    done = client.post("/me/sign-in", data={"csrf": token.group(1), "key": api.keys[who], "next": "/me/"})
    assert done.status_code == 303, done.text
    return client


def test_the_customer_page_names_a_returned_purchase(scenario: Api, tmp_path: Path) -> None:
    upload_update(scenario, tmp_path / "v2", {"P03": "returned"})
    me = signed_in(scenario, "customer2")
    page = me.get("/me/")
    zh = me.get("/me/", headers={"Accept-Language": "zh-CN"})
    me.close()
    assert "withdrawn on" in page.text and "the purchase was returned" in page.text
    assert "该订单已退货" in zh.text
