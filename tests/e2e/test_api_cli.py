"""`pledge serve`, `pledge keys`, `pledge audit verify` and `pledge webhooks deliver` as real processes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pledge.entrypoints.web.key_cache import KEY_CACHE_S
from tests.e2e.test_cli import NOW, Pledge
from tests.integration.test_api_webhooks import Receiver
from tests.support.data import campaign, write_files
from tests.support.serve import pledge_serve


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Pledge, str]]:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    with pledge_serve(db_url, tmp_path, "--now", NOW) as url:
        yield cli, url


def key(cli: Pledge, scope: str, *extra: str) -> str:
    created = cli.json("keys", "create", "--scope", scope, "--name", f"{scope} key", *extra)
    assert created["id"].startswith("key_") and created["secret"].startswith("pk_live_")
    return str(created["secret"])


def test_no_key_cache_refuses_a_revoked_key_at_once(db_url: str, tmp_path: Path) -> None:
    """`pledge serve --key-cache 0s` reads the key on every request; a bad duration is refused."""
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    assert "--key-cache" in cli.run("serve", "--key-cache", "soon", expect=2).stderr
    secret = key(cli, "finance")
    with (
        pledge_serve(db_url, tmp_path, "--now", NOW, "--key-cache", "0s") as url,
        httpx.Client(base_url=url) as http,
    ):
        headers = {"Authorization": f"Bearer {secret}"}
        assert http.get("/v1/ledger/verify", headers=headers).status_code == 200
        key_id = next(k["id"] for k in cli.json("keys", "list")["data"] if k["scope"] == "finance")
        cli.json("keys", "revoke", key_id)
        refused = http.get("/v1/ledger/verify", headers=headers)
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "api_key_revoked")


def test_keys_refuse_bad_input(served: tuple[Pledge, str]) -> None:
    cli, _ = served
    assert "scope" in cli.run("keys", "create", "--scope", "root", expect=2).stderr
    assert "account" in cli.run("keys", "create", "--scope", "customer", expect=2).stderr
    assert "account" in cli.run("keys", "create", "--scope", "admin", "--account", "A", expect=2).stderr
    assert (
        "duration" in cli.run("keys", "create", "--scope", "admin", "--expires-in", "soon", expect=2).stderr
    )
    listed = cli.json("keys", "list")
    assert listed["data"] == []
    assert cli.run("keys", "revoke", "key_nope", expect=1).stderr


def test_scenario_a_through_pledge_serve(served: tuple[Pledge, str], tmp_path: Path) -> None:
    cli, url = served
    keys = {s: key(cli, s) for s in ("admin", "approver", "operator", "finance")}
    keys["customer"] = key(cli, "customer", "--account", "A-cn-1", "--expires-in", "30d")
    secrets_listed = json.dumps(cli.json("keys", "list"))
    assert all(secret not in secrets_listed for secret in keys.values())  # stored hashed, shown once

    http = httpx.Client(base_url=url, timeout=60)

    def auth(who: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[who]}", **headers}

    def wait(job: dict[str, Any]) -> dict[str, Any]:
        while job["status"] not in ("succeeded", "failed"):
            time.sleep(0.05)
            job = http.get(f"/v1/jobs/{job['id']}", headers=auth("operator")).json()
        return job

    accounts, purchases = write_files(tmp_path)
    for kind, path in (("accounts", accounts), ("purchases", purchases)):
        response = http.post(
            f"/v1/{kind}/import",
            content=path.read_bytes(),
            headers=auth("operator", **{"Content-Type": "text/csv", "Idempotency-Key": f"import-{kind}"}),
        )
        assert response.status_code == 202
        assert wait(response.json())["result"]["imported"] > 0
    body = yaml.safe_dump(campaign(), allow_unicode=True)
    applied = http.post(
        "/v1/campaigns", content=body, headers=auth("admin", **{"Content-Type": "application/yaml"})
    )
    assert applied.json()["changed"] is True
    assert http.post("/v1/campaigns/founders-refund/approve", headers=auth("approver")).status_code == 200
    assert http.post("/v1/campaigns/founders-refund/launch", headers=auth("operator")).status_code == 200
    run = wait(http.post("/v1/campaigns/founders-refund/run", headers=auth("operator")).json())
    assert (run["status"], run["result"]["issued"]) == ("succeeded", 3)

    grant = http.get("/v1/grants", headers=auth("customer")).json()["data"][0]
    claimed = http.post(
        f"/v1/grants/{grant['id']}/claim", headers=auth("customer", **{"Idempotency-Key": "c1"})
    )
    assert claimed.json()["state"] == "claimed"
    report = http.get("/v1/campaigns/founders-refund/report", headers=auth("finance")).json()
    assert report["claimed_amount"] == "1999.00"
    assert http.get("/v1/ledger/verify", headers=auth("finance")).json()["ok"] is True
    # The CLI sees what the API did: one database, one set of use cases.
    assert cli.json("campaign", "report", "founders-refund")["claimed_amount"] == "1999.00"
    assert cli.json("audit", "verify")["ok"] is True

    customer_id = next(k["id"] for k in cli.json("keys", "list")["data"] if k["scope"] == "customer")
    cli.json("keys", "revoke", customer_id)
    # The server remembers a key for `--key-cache` (5 s by default, ADR 38): refused within that.
    deadline = time.monotonic() + KEY_CACHE_S + 1.0
    revoked = http.get("/v1/grants", headers=auth("customer"))
    while revoked.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        revoked = http.get("/v1/grants", headers=auth("customer"))
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (401, "api_key_revoked")

    receiver = Receiver()
    try:
        hook = http.post(
            "/v1/webhook_endpoints", json={"url": receiver.url, "events": ["*"]}, headers=auth("admin")
        ).json()
        http.post("/v1/campaigns/founders-refund/pause", headers=auth("operator"))
        delivered = cli.json("webhooks", "deliver")
        assert delivered["delivered"] == 1
        event = receiver.events()[0]
        assert (event["type"], event["data"]["object"]["state"]) == ("campaign.updated", "paused")
        from pledge.webhooks import verify_signature

        body_bytes, headers = receiver.received[0]
        verify_signature(body_bytes, headers["Pledge-Signature"], hook["secret"])
    finally:
        receiver.close()
    http.close()
