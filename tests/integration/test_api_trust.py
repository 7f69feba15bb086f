"""Trust in what the API says: four-eyes by person, idempotency per API key, jobs that tell the truth."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pledge.adapters.sqlalchemy.api_tables import idempotency_keys, jobs
from pledge.adapters.sqlalchemy.tables import purchases
from pledge.domain.records import PURCHASE_COLUMNS
from tests.integration.test_api_support import (  # noqa: F401 - fixtures
    Api,
    Clock,
    api_fixture,
    running_api,
    scenario_fixture,
)
from tests.support.data import campaign

CID = "founders-refund"


def job_rows(api: Api) -> int:
    with api.app.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(jobs)) or 0)


# -- idempotency keys are scoped to the API key ----


def test_two_customers_with_one_idempotency_key_each_open_their_own_envelope(scenario: Api) -> None:
    mine = scenario.get("/v1/grants", "customer").json()["data"][0]
    theirs = scenario.get("/v1/grants", "customer2").json()["data"][0]
    first = scenario.post(f"/v1/grants/{mine['id']}/claim", "customer", Idempotency_Key="open-1")
    second = scenario.post(f"/v1/grants/{theirs['id']}/claim", "customer2", Idempotency_Key="open-1")
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert "Idempotent-Replayed" not in second.headers
    assert (first.json()["id"], second.json()["id"]) == (mine["id"], theirs["id"])
    assert {first.json()["state"], second.json()["state"]} == {"claimed"}
    # Under one API key the same string still names one request: a retry replays it.
    again = scenario.post(f"/v1/grants/{mine['id']}/claim", "customer", Idempotency_Key="open-1")
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (
        200,
        first.content,
        "true",
    )


def test_idempotency_keys_expire_after_the_stated_retention(db_url: str) -> None:
    # Wall time under the test's hand: a loaded machine must not age the key between two requests.
    wall = Clock(time.time_ns() // 1_000)
    with running_api(db_url, wall_clock=wall, idempotency_retention_s=1.0) as api:
        assert api.post("/v1/campaigns", "admin", campaign(), Idempotency_Key="apply").status_code == 200
        reused = api.post("/v1/campaigns", "admin", campaign(budget="1.00"), Idempotency_Key="apply")
        assert reused.status_code == 409
        wall.instant_us += 999_999
        again = api.post("/v1/campaigns", "admin", campaign(budget="1.00"), Idempotency_Key="apply")
        assert again.status_code == 409  # still within the retention
        wall.instant_us += 2
        renewed = api.post("/v1/campaigns", "admin", campaign(budget="1.00"), Idempotency_Key="apply")
        assert (renewed.status_code, renewed.json()["version"]) == (200, 2)
        assert "Idempotent-Replayed" not in renewed.headers


def test_a_replayed_webhook_endpoint_never_shows_the_secret_again(api: Api) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["grant.issued"]}
    created = api.post("/v1/webhook_endpoints", "admin", body, Idempotency_Key="hook-1")
    assert created.status_code == 200 and created.json()["secret"].startswith("whsec_")
    replay = api.post("/v1/webhook_endpoints", "admin", body, Idempotency_Key="hook-1")
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (200, "true")
    assert replay.json() == {**created.json(), "secret": None}
    with api.app.engine.connect() as conn:
        stored = conn.scalar(select(idempotency_keys.c.response_body))
    assert stored is not None and created.json()["secret"] not in stored
    assert len(api.get("/v1/webhook_endpoints", "admin").json()["data"]) == 1


# -- bodies, and unknown campaigns ----


def test_operations_without_parameters_refuse_a_body(scenario: Api) -> None:
    grant = scenario.get("/v1/grants", "customer").json()["data"][0]
    operations = [(f"/v1/campaigns/{CID}/{name}", "operator") for name in ("pause", "resume", "close", "run")]
    operations += [
        ("/v1/grants/expire", "operator"),
        ("/v1/subscriptions/renew_due", "operator"),
        (f"/v1/grants/{grant['id']}/claim", "customer"),
    ]
    before, jobs_before = scenario.counts(), job_rows(scenario)
    for path, who in operations:
        for body, code, param in (
            ({"dry_run": True}, "unknown_field", "dry_run"),
            ("x", "body_not_allowed", "body"),
        ):
            response = scenario.post(path, who, body)
            assert response.status_code == 400, (path, body, response.text)
            assert response.json()["error"]["code"] == code
            assert response.json()["error"]["param"] == param
    # Launch takes one optional field (accept_shortfall): anything else is refused, nothing launched.
    for body in ({"dry_run": True}, "x"):
        assert scenario.post(f"/v1/campaigns/{CID}/launch", "operator", body).status_code == 400
    assert (scenario.counts(), job_rows(scenario)) == (before, jobs_before)
    assert scenario.get("/v1/grants", "customer").json()["data"][0]["state"] == "issued"
    assert scenario.post(f"/v1/campaigns/{CID}/pause", "operator").status_code == 200  # no body: fine


def test_running_an_unknown_campaign_is_404_at_once(api: Api) -> None:
    jobs_before = job_rows(api)
    missing = api.post("/v1/campaigns/no-such-campaign/run", "operator", Idempotency_Key="run-x")
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["code"] == "campaign_not_found"
    again = api.post("/v1/campaigns/no-such-campaign/run", "operator", Idempotency_Key="run-x")
    assert (again.status_code, again.content) == (404, missing.content)
    assert job_rows(api) == jobs_before


# -- four-eyes counts persons ----


@pytest.mark.parametrize("spelling", ["admin", " Admin ", "ＡＤＭＩＮ"])
def test_a_second_key_of_the_author_cannot_approve(api: Api, tmp_path: Path, spelling: str) -> None:
    api.load_data(tmp_path)
    assert api.post("/v1/campaigns", "admin", campaign()).status_code == 200  # the "admin" person writes it
    key, secret = api.store.create_key(
        scope="approver", name=spelling, account_id=None, expires_at_us=None, now_us=time.time_ns() // 1_000
    )
    refused = api.post(f"/v1/campaigns/{CID}/approve", secret)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "four_eyes"
    assert api.get(f"/v1/campaigns/{CID}/report", "finance").json()["state"] == "draft"
    approved = api.post(f"/v1/campaigns/{CID}/approve", "approver")
    assert approved.status_code == 200 and approved.json()["approved_by"].startswith("approver (key_")
    assert key.key_id not in approved.json()["approved_by"]


def test_keys_cannot_borrow_the_key_suffix_to_pass_as_someone_else(api: Api) -> None:
    for name in ("admin (key_0123)", "admin)", "ad\x00min", "\u202e", "  "):
        with pytest.raises(Exception, match="name"):
            api.store.create_key(scope="approver", name=name, account_id=None, expires_at_us=None, now_us=1)


def test_terms_with_blocking_problems_cannot_be_approved(api: Api, tmp_path: Path) -> None:
    api.load_data(tmp_path)
    assert api.post("/v1/campaigns", "admin", campaign(benefit={"amount": "19990.00"})).status_code == 200
    refused = api.post(f"/v1/campaigns/{CID}/approve", "approver")
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "blocking_problems"
    assert "amount_exceeds_price_paid" in error["message"] and "P01" in error["message"]
    report = api.get(f"/v1/campaigns/{CID}/report", "finance").json()
    assert report["state"] == "draft" and report["versions"][0]["approved"] is False
    assert api.post(f"/v1/campaigns/{CID}/launch", "operator").json()["error"]["code"] == "not_approved"


# -- jobs tell the truth on a busy SQLite ----


def _purchases_file(folder: Path, batch: int, rows: int) -> Path:
    path = folder / f"purchases-{batch}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PURCHASE_COLUMNS)
        for n in range(rows):
            at = f"2011-10-{1 + n % 28:02d}T10:00:00+08:00"
            writer.writerow(
                [f"B{batch}-{n:06d}", "A-cn-1", "mi-2", "", at, "1.00", "CNY", "completed", "web"]
            )
    return path


def test_concurrent_imports_on_a_busy_sqlite_never_report_failed_after_commit(tmp_path: Path) -> None:
    """Six imports at once while each holds SQLite's one write lock longer than a connection waits for it."""
    url = f"sqlite:///{tmp_path / 'busy.db'}?timeout=0.05"
    with running_api(url, busy_wait_s=120.0) as api:
        api.load_data(tmp_path)
        files = [_purchases_file(tmp_path, batch, 20_000) for batch in range(6)]
        started: dict[int, str] = {}
        barrier = threading.Barrier(len(files))

        def upload(batch: int) -> None:
            barrier.wait()
            deadline = time.monotonic() + 120
            while True:  # as a client does: a 503 (the lock was busy, nothing was created) is retried
                response = api.upload("purchases", files[batch].read_bytes())
                if response.status_code != 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert response.status_code == 202, response.text
            started[batch] = response.json()["id"]

        threads = [threading.Thread(target=upload, args=(batch,)) for batch in range(len(files))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(started) == len(files)
        outcomes = {batch: api.wait_job(job_id, timeout=180) for batch, job_id in started.items()}
        with api.app.engine.connect() as conn:
            for batch, job in outcomes.items():
                stored = conn.scalar(select(func.count()).where(purchases.c.purchase_id.like(f"B{batch}-%")))
                committed = stored == 20_000
                # The truth: succeeded exactly when the rows are there, and here every import gets through.
                assert (job["status"], committed) == ("succeeded", True), (batch, job, stored)
                assert job["result"]["imported"] == 20_000
