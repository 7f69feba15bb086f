"""Webhooks: the outbox is written with the change, deliveries are signed, retried, and verifiable.

Every delivery goes to a local HTTP server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pledge.adapters.webhooks.delivery import Deliverer, RetryPolicy
from pledge.adapters.webhooks.store import WebhookStore
from pledge.domain.timeutil import parse_instant
from pledge.webhooks import SignatureVerificationError, sign, verify_signature
from tests.integration.test_api_support import Api, api_fixture, running_api  # noqa: F401 - fixtures
from tests.support.data import campaign

CID = "founders-refund"
FAST = RetryPolicy(base_s=0.01, max_backoff_s=0.05, max_attempts=3, timeout_s=5, lease_s=5)


class Receiver:
    """Records every POST; answers 500 to the first ``fail_first`` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1
                    if not failing:
                        receiver.received.append((body, dict(self.headers)))
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for body, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def register(api: Api, url: str, events: list[str]) -> dict[str, Any]:
    response = api.post("/v1/webhook_endpoints", "admin", {"url": url, "events": events})
    assert response.status_code == 200, response.text
    return dict(response.json())


def drain(deliverer: Deliverer, passes: int = 20) -> None:
    for _ in range(passes):
        counts = deliverer.deliver_due()
        if not any(counts.values()):
            time.sleep(0.06)  # let backoffs come due
            if not any(deliverer.deliver_due().values()):
                return


def test_events_are_written_with_the_change_signed_and_delivered(
    api: Api, receiver: Receiver, tmp_path: Path
) -> None:
    endpoint = register(
        api, receiver.url, ["grant.issued", "grant.claimed", "grant.expired", "campaign.updated"]
    )
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["id"].startswith("we_")
    shown = api.get(f"/v1/webhook_endpoints/{endpoint['id']}", "admin").json()
    assert shown["secret"] is None  # shown once, at creation
    api.load_data(tmp_path)
    api.launch()
    api.run()
    grant = api.get("/v1/grants", "customer").json()["data"][0]
    api.post(f"/v1/grants/{grant['id']}/claim", "customer")
    api.clock.instant_us = parse_instant("2021-09-20T00:00:00Z")
    # A refused change writes no event: the outbox shares the change's transaction.
    refused = api.post(f"/v1/grants/{grant['id']}/claim", "customer2")
    assert refused.status_code == 404
    api.post("/v1/grants/expire", "operator")

    deliverer = Deliverer(WebhookStore(api.app.engine), FAST)
    drain(deliverer)
    deliverer.close()
    types = [e["type"] for e in receiver.events()]
    assert types.count("grant.issued") == 3
    assert types.count("grant.claimed") == 1
    assert types.count("grant.expired") == 2
    states = [e["data"]["object"]["state"] for e in receiver.events() if e["type"] == "campaign.updated"]
    assert states == ["draft", "approved", "active"]
    ids = [e["id"] for e in receiver.events()]
    assert len(set(ids)) == len(ids) and all(i.startswith("evt_") for i in ids)
    for body, headers in receiver.received:
        verify_signature(body, headers["Pledge-Signature"], secret)
        with pytest.raises(SignatureVerificationError):
            verify_signature(body + b" ", headers["Pledge-Signature"], secret)
    listed = api.get("/v1/events", "finance", type="grant.expired").json()
    assert [e["id"] for e in listed["data"]] == [
        e["id"] for e in receiver.events() if e["type"] == "grant.expired"
    ]
    one = api.get(f"/v1/events/{ids[0]}", "admin").json()
    assert one == receiver.events()[0]


def test_failed_deliveries_are_retried_with_backoff_then_given_up(api: Api, tmp_path: Path) -> None:
    flaky = Receiver(fail_first=2)
    dead = "http://127.0.0.1:9/nothing-listens-here"
    try:
        register(api, flaky.url, ["campaign.updated"])
        register(api, dead, ["campaign.updated"])
        api.load_data(tmp_path)
        assert api.post("/v1/campaigns", "admin", campaign()).status_code == 200
        store = WebhookStore(api.app.engine)
        deliverer = Deliverer(store, FAST)
        first = deliverer.deliver_due()
        assert first == {"delivered": 0, "retrying": 2, "failed": 0}
        drain(deliverer)
        deliverer.close()
        assert [e["type"] for e in flaky.events()] == ["campaign.updated"]
        event_id = flaky.events()[0]["id"]
        rows = {r["endpoint_id"]: r for r in store.deliveries_of(event_id)}
        by_status = sorted((r["status"], r["attempts"]) for r in rows.values())
        assert by_status == [("delivered", 3), ("failed", 3)]
    finally:
        flaky.close()
    policy = RetryPolicy(base_s=30, max_backoff_s=3600)
    assert [policy.backoff_us(n) // 1_000_000 for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_the_server_delivers_in_the_background(sqlite_url: str, receiver: Receiver) -> None:
    with running_api(sqlite_url, webhook_worker=True, webhook_interval_s=0.05, webhook_policy=FAST) as api:
        register(api, receiver.url, ["*"])
        assert api.post("/v1/campaigns", "admin", campaign()).status_code == 200
        deadline = time.monotonic() + 10
        while not receiver.events():
            assert time.monotonic() < deadline, "no webhook arrived"
            time.sleep(0.05)
        assert receiver.events()[0]["type"] == "campaign.updated"


def test_endpoint_validation_listing_and_disabling(api: Api) -> None:
    for bad in (
        {"url": "ftp://127.0.0.1/x", "events": ["*"]},
        {"url": "http://u:p@127.0.0.1/", "events": ["*"]},
    ):
        assert api.post("/v1/webhook_endpoints", "admin", bad).status_code == 400
    unknown = api.post(
        "/v1/webhook_endpoints", "admin", {"url": "http://127.0.0.1/", "events": ["grant.paid"]}
    )
    assert unknown.json()["error"]["code"] == "unknown_event_type"
    made = [register(api, f"http://127.0.0.1:1/{n}", ["grant.claimed"])["id"] for n in range(3)]
    page = api.get("/v1/webhook_endpoints", "admin", limit=2).json()
    assert page["has_more"] is True
    rest = api.get("/v1/webhook_endpoints", "admin", starting_after=page["data"][-1]["id"]).json()
    assert sorted(e["id"] for e in page["data"] + rest["data"]) == sorted(made)
    gone = api.http.delete(f"/v1/webhook_endpoints/{made[0]}", headers=api.headers("admin"))
    assert gone.json()["enabled"] is False
    audit = api.get("/v1/audit", "admin", subject=f"webhook_endpoint:{made[0]}").json()["data"]
    assert [e["action"] for e in audit] == ["webhook_endpoint.create", "webhook_endpoint.disable"]
    assert audit[1]["after"]["enabled"] is False


def test_verify_signature_refuses_replays_and_forgeries() -> None:
    body, secret, t = b'{"id":"evt_1"}', "whsec_test", 1_700_000_000
    header = sign(body, secret, t)
    assert verify_signature(body, header, secret, now=t + 299) == t
    assert verify_signature(body.decode(), f"t={t},v1=00,{header.split(',')[1]}", secret, now=t) == t
    for bad_header, now in (
        (header, t + 301),  # too old: a replay
        (header, t - 301),
        (sign(body, "whsec_other", t), t),
        ("v1=abc", t),
        (f"t=x,{header.split(',')[1]}", t),
        ("", t),
    ):
        with pytest.raises(SignatureVerificationError):
            verify_signature(body, bad_header, secret, now=now)
