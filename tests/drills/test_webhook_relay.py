"""Webhook relay drill: the relay killed mid-drain against a receiver that fails, hangs and dawdles →
every event delivered at least once to every subscribed endpoint, every signature valid, none lost.

What is promised (ADR 6, src/pledge/webhooks.py): delivery at least once, signed; receivers dedupe by
event id. No order is promised, so none is checked; duplicates are counted, each identified by the
``id`` in its body.

The relay is the product's deliverer (adapters/webhooks/delivery.py) in a child process, with a
retry policy of milliseconds instead of the production 30 s · 2ⁿ⁻¹ (``pledge webhooks deliver`` has
no knob for it), killed with SIGKILL after a seeded random delay and restarted, again and again,
while `grants expire` writes more events; then left to drain. The receiver, on loopback in the test
process, answers 500, holds the request past the relay's timeout, or answers slowly, at random
(seeded); it acknowledges a given event after at most a few failures, so that the deliverer's
give-up after ``max_attempts`` is not what the drill measures.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from pledge.adapters.sqlalchemy.api_tables import webhook_deliveries, webhook_endpoints
from pledge.adapters.webhooks.store import WebhookStore
from pledge.bootstrap import App
from pledge.webhooks import SIGNATURE_HEADER, SignatureVerificationError, verify_signature
from tests.drills.conftest import NOW, db_name, figure, launch, scaled
from tests.e2e.test_cli import Pledge
from tests.fakes.loopback import JsonHandler, Server

KILLS = scaled(6, 24)
SEED = int(os.environ.get("PLEDGE_DRILL_SEED", str(random.SystemRandom().randrange(1 << 32))))
EXPIRE_AT = "2021-10-01T00:00:00+08:00"
MAX_FAILURES_PER_EVENT = 4  # then the receiver acknowledges: the relay's give-up is not the subject
RELAY = """
import sys, time
from pledge.adapters.webhooks.delivery import Deliverer, RetryPolicy
from pledge.adapters.webhooks.store import WebhookStore
from pledge.bootstrap import App

app = App(sys.argv[1])
policy = RetryPolicy(base_s=0.02, max_backoff_s=0.3, max_attempts=50, timeout_s=0.5, lease_s=1.5)
relay = Deliverer(WebhookStore(app.engine), policy)
while True:
    if not any(relay.deliver_due(limit=25).values()):
        time.sleep(0.05)
"""


@dataclass
class Receiver:
    rng: random.Random
    hang_s: float = 1.0  # past the relay's timeout
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    acked: Counter[tuple[str, str]] = field(default_factory=Counter)  # (path, event id) → 2xx answers
    answers: Counter[str] = field(default_factory=Counter)
    bodies: list[tuple[str, bytes, str]] = field(default_factory=list)  # path, body, signature header
    received_at: list[float] = field(default_factory=list)

    def choose(self, key: tuple[str, str]) -> str:
        with self.lock:
            if self.failures[key] >= MAX_FAILURES_PER_EVENT:
                return "ok"
            roll = self.rng.random()
            answer = "500" if roll < 0.25 else "hang" if roll < 0.35 else "slow" if roll < 0.5 else "ok"
            if answer in ("500", "hang"):
                self.failures[key] += 1
            self.answers[answer] += 1
            return answer


class ReceiverHandler(JsonHandler):
    def do_POST(self) -> None:
        assert isinstance(self.server, Server) and isinstance(self.server.provider, Receiver)
        receiver = self.server.provider
        body = self.body()
        try:
            event_id = str(json.loads(body)["id"])
        except (ValueError, KeyError):
            self.reply(400, b"{}")
            return
        key = (self.path, event_id)
        with receiver.lock:  # verified on receipt: the signature's timestamp has a tolerance
            receiver.bodies.append((self.path, body, self.headers.get(SIGNATURE_HEADER, "")))
            receiver.received_at.append(time.time())
        answer = receiver.choose(key)
        if answer == "500":
            self.reply(500, b'{"error": "try later"}')
            return
        if answer == "hang":
            time.sleep(receiver.hang_s)  # the relay has given up on this attempt by now
            self.drop()
            return
        if answer == "slow":
            time.sleep(receiver.rng.uniform(0.05, 0.2))
        with receiver.lock:
            receiver.acked[key] += 1
        self.reply(200, b"{}")


class QuietServer(Server):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # a relay killed mid-request resets its connection: expected here


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver(random.Random(SEED))
    handler: type[BaseHTTPRequestHandler] = ReceiverHandler
    server = QuietServer(("127.0.0.1", 0), handler)
    server.provider = state
    thread = threading.Thread(target=server.serve_forever, name="drill-receiver", daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def relay(cli: Pledge, script: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    return subprocess.Popen(
        [sys.executable, str(script), cli.db_url],
        cwd=cli.cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def pending(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(webhook_deliveries.c.status)).scalars().all()
    finally:
        engine.dispose()
    return sum(1 for status in rows if status != "delivered")


def deliveries(db_url: str) -> tuple[list[Any], dict[str, tuple[str, str]]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = list(conn.execute(select(webhook_deliveries)))
            endpoints = {r.endpoint_id: (r.url, r.secret) for r in conn.execute(select(webhook_endpoints))}
    finally:
        engine.dispose()
    return rows, endpoints


def test_webhook_relay_killed_mid_drain_delivers_every_event(
    db_url: str, tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    state, base = receiver
    rng = random.Random(SEED + 1)
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    data = cli.json("generate", str(tmp_path / "data"), "--purchases", str(scaled(120, 500)), "--seed", "5")
    cli.json("import", "accounts", data["accounts_file"])
    cli.json("import", "purchases", data["purchases_file"])
    app = App(db_url)  # two subscriptions: one to every event, one to grant events only
    try:
        store = WebhookStore(app.engine)
        store.create_endpoint(f"{base}/all", ["*"], "drill: everything", app.wall_clock.now_us())
        store.create_endpoint(
            f"{base}/grants", ["grant.issued", "grant.expired"], "drill", app.wall_clock.now_us()
        )
    finally:
        app.close()
    launch(cli, tmp_path)
    cli.json("campaign", "run", "founders-refund", "--now", NOW)
    script = tmp_path / "relay.py"
    script.write_text(RELAY, encoding="utf-8")

    writer = threading.Thread(target=lambda: cli.json("grants", "expire", "--now", EXPIRE_AT))
    started = time.monotonic()
    kills = 0
    while kills < KILLS:
        proc = relay(cli, script)
        if kills == KILLS // 2:
            writer.start()  # more events arrive while the relay is being killed
        try:
            _, err = proc.communicate(timeout=rng.uniform(0.8, scaled(3, 5)))
            pytest.fail(f"the relay stopped by itself: {err}")
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            kills += 1
    writer.join()
    proc = relay(cli, script)
    try:
        deadline = time.monotonic() + scaled(120, 600)
        while pending(db_url) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.communicate()
    took = time.monotonic() - started

    rows, endpoints = deliveries(db_url)
    path_of = {eid: url.removeprefix(base) for eid, (url, _) in endpoints.items()}
    secret_of = {url.removeprefix(base): secret for url, secret in endpoints.values()}
    lost = [
        (r.event_id, path_of[r.endpoint_id])
        for r in rows
        if state.acked[(path_of[r.endpoint_id], r.event_id)] == 0
    ]
    not_delivered = Counter(r.status for r in rows if r.status != "delivered")
    bad_signatures = 0
    for (path, body, header), at in zip(state.bodies, state.received_at, strict=True):
        try:
            verify_signature(body, header, secret_of[path], now=at)
        except SignatureVerificationError:
            bad_signatures += 1
    duplicates = sum(n - 1 for n in state.acked.values() if n > 1)
    ledger_ok = cli.json("ledger", "verify")["ok"]
    figure(
        f"webhook relay [{db_name(db_url)}]: seed {SEED}, {kills} kill -9 of the relay, "
        f"{len(rows)} deliveries to 2 endpoints, {len(state.bodies)} requests "
        f"(answers {dict(state.answers)}), "
        f"{len(lost)} lost, {dict(not_delivered) or 'all delivered'}, {duplicates} duplicates "
        f"(identified by event id), {bad_signatures} bad signatures, "
        f"ledger {'ok' if ledger_ok else 'BROKEN'} ({took:.0f}s)"
    )
    assert lost == [] and not not_delivered
    assert bad_signatures == 0 and ledger_ok
    assert len(rows) > 0
