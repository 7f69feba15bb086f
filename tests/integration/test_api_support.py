"""Harness for the HTTP API tests: a live server (uvicorn on 127.0.0.1) over a fresh database.

Imported by the other ``test_api*`` modules; it holds no tests itself except a
check that the harness starts and stops cleanly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from pledge.adapters.sqlalchemy.api_store import ApiStore
from pledge.adapters.sqlalchemy.api_tables import audit_log
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.adapters.sqlalchemy.tables import accounts, campaigns, grants, purchases
from pledge.bootstrap import App
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.server import create_app
from pledge.entrypoints.web.context import Settings
from pledge.entrypoints.web.ratelimit import Rate
from tests.support.data import campaign, write_files

NOW = "2021-08-10T12:00:00+08:00"
STAFF = ("admin", "approver", "operator", "support", "finance")


@dataclass
class Clock:
    """A clock tests can move (claims and expiry depend on business time)."""

    instant_us: int

    def now_us(self) -> int:
        return self.instant_us


class LiveServer:
    """uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, api: Any) -> None:
        config = uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the API server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class Api:
    """A running API with one key per scope (customer keys for A-cn-1 and A-cn-2)."""

    def __init__(self, db_url: str, settings: Settings, wall_clock: Clock | None = None) -> None:
        self.clock = Clock(parse_instant(NOW))
        self.app = App(db_url, wall_clock=wall_clock)
        self.app.clock = self.clock  # type: ignore[assignment]  # a settable test clock
        upgrade(self.app.engine)
        self.store = ApiStore(self.app.engine)
        self.keys: dict[str, str] = {}
        self.key_ids: dict[str, str] = {}
        now = time.time_ns() // 1_000
        for scope in STAFF:
            self.add_key(scope, scope, None, now)
        self.add_key("customer", "customer", "A-cn-1", now)
        self.add_key("customer2", "customer", "A-cn-2", now)
        self.fastapi = create_app(self.app, settings)
        self.server = LiveServer(self.fastapi)
        self.url = self.server.start()
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def add_key(
        self, label: str, scope: str, account: str | None, now: int, expires: int | None = None
    ) -> str:
        key, secret = self.store.create_key(
            scope=scope, name=label, account_id=account, expires_at_us=expires, now_us=now
        )
        self.keys[label], self.key_ids[label] = secret, key.key_id
        return secret

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        out = {k.replace("_", "-"): v for k, v in extra.items()}
        if who is not None:
            out["Authorization"] = f"Bearer {self.keys.get(who, who)}"
        return out

    def get(self, path: str, who: str | None, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None, headers=self.headers(who))

    def post(self, path: str, who: str | None, json: Any = None, **headers: str) -> httpx.Response:
        return self.http.post(path, json=json, headers=self.headers(who, **headers))

    def wait_job(self, job_id: str, who: str = "operator", timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/v1/jobs/{job_id}", who).json()
            if job["status"] in ("succeeded", "failed"):
                return dict(job)
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
            time.sleep(0.05)

    def upload(self, kind: str, body: bytes, who: str = "operator", **headers: str) -> httpx.Response:
        return self.http.post(
            f"/v1/{kind}/import",
            content=body,
            headers=self.headers(who, **{"Content_Type": "text/csv", **headers}),
        )

    def load_data(self, folder: Path) -> None:
        accounts_file, purchases_file = write_files(folder)
        for kind, path in (("accounts", accounts_file), ("purchases", purchases_file)):
            response = self.upload(kind, path.read_bytes())
            assert response.status_code == 202, response.text
            assert self.wait_job(response.json()["id"])["status"] == "succeeded"

    def launch(self, **changes: Any) -> None:
        """Apply (admin), approve (approver) and launch (operator) the test campaign."""
        assert self.post("/v1/campaigns", "admin", campaign(**changes)).status_code == 200
        assert self.post("/v1/campaigns/founders-refund/approve", "approver").status_code == 200
        assert self.post("/v1/campaigns/founders-refund/launch", "operator").status_code == 200

    def run(self) -> dict[str, Any]:
        response = self.post("/v1/campaigns/founders-refund/run", "operator")
        assert response.status_code == 202, response.text
        return self.wait_job(response.json()["id"])

    def counts(self) -> dict[str, int]:
        """Rows that any write would add: a refused request must leave every count as it was."""
        with self.app.engine.connect() as conn:
            return {
                t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                for t in (accounts, purchases, campaigns, grants, audit_log)
            }

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        self.app.close()


@contextmanager
def running_api(db_url: str, wall_clock: Clock | None = None, **settings: Any) -> Iterator[Api]:
    settings.setdefault("webhook_worker", False)
    # Generous limits by default; the rate-limit tests set their own.
    settings.setdefault("rate_per_key", Rate(per_second=1000.0, burst=1000))
    settings.setdefault("rate_per_account", Rate(per_second=1000.0, burst=1000))
    api = Api(db_url, Settings(**settings), wall_clock)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(name="api")
def api_fixture(db_url: str) -> Iterator[Api]:
    with running_api(db_url) as running:
        yield running


@pytest.fixture(name="scenario")
def scenario_fixture(api: Api, tmp_path: Path) -> Api:
    """Data imported; the campaign applied, approved, launched and run (3 grants)."""
    api.load_data(tmp_path)
    api.launch()
    assert api.run()["result"]["issued"] == 3
    return api


def test_the_harness_serves_and_stops(sqlite_url: str) -> None:
    with running_api(sqlite_url) as api:
        response = api.get("/v1/ledger/verify", "finance")
        assert response.status_code == 200
        assert response.headers["Request-Id"].startswith("req_")
