"""Idempotency-Key (replay, reuse, concurrency) and rate limits."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx

from pledge.entrypoints.web.ratelimit import Rate
from tests.integration.test_api_support import Api, api_fixture, running_api, scenario_fixture  # noqa: F401 - fixtures
from tests.support.data import campaign

CID = "founders-refund"


def test_a_retry_replays_the_first_response(scenario: Api) -> None:
    grant = scenario.get("/v1/grants", "customer").json()["data"][0]
    key = str(uuid.uuid4())
    first = scenario.post(f"/v1/grants/{grant['id']}/claim", "customer", Idempotency_Key=key)
    audited = scenario.counts()["audit_log"]
    again = scenario.post(f"/v1/grants/{grant['id']}/claim", "customer", Idempotency_Key=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert scenario.counts()["audit_log"] == audited  # nothing ran the second time


def test_the_same_key_with_another_request_is_409_and_changes_nothing(api: Api) -> None:
    key = "apply-1"
    assert api.post("/v1/campaigns", "admin", campaign(), Idempotency_Key=key).status_code == 200
    before = api.counts()
    for who, body in (("admin", campaign(budget="1.00")), ("admin", campaign(name="other"))):
        reused = api.post("/v1/campaigns", who, body, Idempotency_Key=key)
        assert reused.status_code == 409
        assert reused.json()["error"] == {
            "type": "idempotency_error",
            "code": "idempotency_key_reused",
            "message": reused.json()["error"]["message"],
            "param": "Idempotency-Key",
        }
    # Another path, or another API key, with the same Idempotency-Key is another request too.
    assert api.post(f"/v1/campaigns/{CID}/simulate", "admin", None, Idempotency_Key=key).status_code == 409
    assert api.post("/v1/campaigns", "finance", campaign(), Idempotency_Key=key).status_code == 403
    assert api.counts() == before
    report = api.get(f"/v1/campaigns/{CID}/report", "finance").json()
    assert len(report["versions"]) == 1


def test_a_malformed_request_leaves_its_key_free_for_the_corrected_one(api: Api) -> None:
    bad = api.post("/v1/webhook_endpoints", "admin", {"url": "not a url"}, Idempotency_Key="fix-me")
    assert bad.status_code == 400, bad.text
    good = api.post(
        "/v1/webhook_endpoints",
        "admin",
        {"url": "https://example.com/hooks", "events": ["grant.claimed"]},
        Idempotency_Key="fix-me",
    )
    assert good.status_code in (200, 201), good.text
    assert "Idempotent-Replayed" not in good.headers


def test_errors_are_replayed_too(api: Api) -> None:
    bad = api.post("/v1/campaigns/nope/launch", "operator", Idempotency_Key="launch-nope")
    assert bad.status_code == 404
    again = api.post("/v1/campaigns/nope/launch", "operator", Idempotency_Key="launch-nope")
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (
        404,
        bad.content,
        "true",
    )


def test_concurrent_requests_with_one_key_execute_once(api: Api, tmp_path: Path) -> None:
    """Eight clients race the same run with the same key: one job, the others replay it or get 409."""
    api.load_data(tmp_path)
    api.launch()
    results: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def fire() -> None:
        with httpx.Client(base_url=api.url, timeout=60) as client:
            barrier.wait()
            response = client.post(
                f"/v1/campaigns/{CID}/run", headers=api.headers("operator", Idempotency_Key="run-once")
            )
        with lock:
            results.append(response)

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert set(statuses) <= {202, 409}
    jobs = {r.json()["id"] for r in results if r.status_code == 202}
    assert len(jobs) == 1
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_request_in_progress"
    assert api.wait_job(jobs.pop())["result"]["issued"] == 3
    runs = [
        e for e in api.get("/v1/audit", "admin", limit=100).json()["data"] if e["action"] == "campaign.run"
    ]
    assert len(runs) == 1


def test_claims_and_eligibility_are_rate_limited(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(
        sqlite_url,
        rate_per_key=Rate(per_second=0.01, burst=4),
        rate_per_account=Rate(per_second=0.01, burst=2),
    ) as api:
        api.load_data(tmp_path)
        api.launch()
        api.run()
        path = f"/v1/accounts/A-cn-1/eligibility?campaign={CID}"
        assert [api.get(path, "customer").status_code for _ in range(3)] == [200, 200, 429]
        limited = api.get(path, "customer")
        assert limited.json()["error"]["type"] == "rate_limit_error"
        assert int(limited.headers["Retry-After"]) >= 1
        # The per-account bucket holds whoever asks (support too); another account is unaffected.
        assert api.get(path, "support").status_code == 429
        other = f"/v1/accounts/A-cn-2/eligibility?campaign={CID}"
        assert api.get(other, "customer2").status_code == 200
        # Per key: support's key has spent 1 of 4 tokens; 3 more, then 429 even on fresh accounts.
        statuses = [
            api.get(f"/v1/accounts/A-cn-{n}/eligibility?campaign={CID}", "support") for n in (3, 4, 5)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 200]
        assert api.get(f"/v1/accounts/A-hk-1/eligibility?campaign={CID}", "support").status_code == 429
        grant = api.get("/v1/grants", "customer2").json()["data"][0]
        claim = f"/v1/grants/{grant['id']}/claim"
        assert [api.post(claim, "customer2").status_code for _ in range(3)] == [200, 200, 429]
