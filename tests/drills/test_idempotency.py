"""Idempotency drill: a replay is the identical response; a reused key with another request is a
409 that changes nothing. Over HTTP against `pledge serve`, on every kind of write it covers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.drills.conftest import db_name, figure, serving
from tests.e2e.test_cli import Pledge
from tests.support.data import campaign, write_files

CID = "founders-refund"
# What a client acts on; Request-Id and Date name the delivery, not the result, and may differ.
HEADERS = ("content-type", "location", "retry-after")


def same_response(first: httpx.Response, replay: httpx.Response, secret: bool = False) -> bool:
    """Identical status, body and headers; ``secret``: the body but for a secret shown only once
    (ADR 16: a webhook endpoint's signing secret is never stored beside the key nor replayed)."""
    if secret:
        body_same = replay.json() == {**first.json(), "secret": None} and first.json()["secret"]
    else:
        body_same = replay.content == first.content
    return (
        replay.status_code == first.status_code
        and bool(body_same)
        and all(replay.headers.get(h) == first.headers.get(h) for h in HEADERS)
        and replay.headers.get("idempotent-replayed") == "true"
    )


def test_idempotency_drill(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.json("import", "accounts", str(accounts))
    cli.json("import", "purchases", str(purchases))
    keys = {
        scope: cli.key(scope, f"{scope}-person") for scope in ("admin", "approver", "operator", "finance")
    }
    keys["customer"] = str(
        cli.json("keys", "create", "--scope", "customer", "--name", "c", "--account", "A-cn-1")["secret"]
    )
    keys["customer2"] = str(
        cli.json("keys", "create", "--scope", "customer", "--name", "c2", "--account", "A-cn-2")["secret"]
    )
    replays: list[str] = []
    reuses: list[str] = []
    with serving(db_url, tmp_path) as url, httpx.Client(base_url=url, timeout=60) as http:

        def post(who: str, path: str, key: str, **body: Any) -> httpx.Response:
            headers = {"Authorization": f"Bearer {keys[who]}", "Idempotency-Key": key}
            return http.post(path, headers=headers, **body)

        def get(who: str, path: str) -> Any:
            return http.get(path, headers={"Authorization": f"Bearer {keys[who]}"}).json()

        def drill(
            name: str,
            first: httpx.Response,
            replay: httpx.Response,
            reused: httpx.Response | None,
            secret: bool = False,
        ) -> None:
            assert first.status_code < 300, first.text
            assert same_response(first, replay, secret), (name, first.headers, replay.headers, replay.text)
            replays.append(name)
            if reused is None:
                return
            assert reused.status_code == 409, (name, reused.text)
            assert reused.json()["error"]["code"] == "idempotency_key_reused", reused.text
            reuses.append(name)

        apply = ("admin", "/v1/campaigns", "apply-1")
        drill(
            "campaign apply",
            post(*apply, json=campaign()),
            post(*apply, json=campaign()),
            post(*apply, json=campaign(budget="1.00")),
        )
        report = get("finance", f"/v1/campaigns/{CID}/report")
        assert (len(report["versions"]), report["budget"]) == (1, "50000000.00")  # the reuse changed nothing

        assert post("approver", f"/v1/campaigns/{CID}/approve", "approve-1").status_code == 200
        launch = post("operator", f"/v1/campaigns/{CID}/launch", "launch-1")
        drill(
            "campaign launch",
            launch,
            post("operator", f"/v1/campaigns/{CID}/launch", "launch-1"),
            post("operator", f"/v1/campaigns/{CID}/pause", "launch-1"),
        )
        assert get("finance", f"/v1/campaigns/{CID}/report")["state"] == "active"  # not paused

        run = post("operator", f"/v1/campaigns/{CID}/run", "run-1")
        drill(
            "campaign run (job)",
            run,
            post("operator", f"/v1/campaigns/{CID}/run", "run-1"),
            post("operator", f"/v1/campaigns/{CID}/close", "run-1"),
        )
        job = run.json()
        while job["status"] not in ("succeeded", "failed"):
            job = get("operator", f"/v1/jobs/{job['id']}")
        assert job["result"]["issued"] == 3
        assert get("finance", f"/v1/campaigns/{CID}/report")["state"] == "active"  # not closed

        mine = get("customer", "/v1/grants")["data"][0]
        theirs = get("customer2", "/v1/grants")["data"][0]
        claim = ("customer", f"/v1/grants/{mine['id']}/claim", "claim-1")
        first = post(*claim)
        drill("grant claim", first, post(*claim), None)
        # Another grant under the same key: a reused key, refused before the grant is even looked up,
        # so the answer says nothing of whether that grant exists.
        other = post("customer", f"/v1/grants/{theirs['id']}/claim", "claim-1")
        assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused"), (
            other.text
        )
        assert get("customer2", f"/v1/grants/{theirs['id']}")["state"] == "issued"  # not opened by the reuse
        # A reuse by another key is that key's own request: customer2 opens their envelope with it.
        assert post("customer2", f"/v1/grants/{theirs['id']}/claim", "claim-1").status_code == 200

        hook = ("admin", "/v1/webhook_endpoints", "hook-1")
        first = post(*hook, json={"url": "http://127.0.0.1:9/a", "events": ["*"]})
        drill(
            "webhook endpoint create",
            first,
            post(*hook, json={"url": "http://127.0.0.1:9/a", "events": ["*"]}),
            post(*hook, json={"url": "http://127.0.0.1:9/b", "events": ["*"]}),
            secret=True,
        )
        assert [e["url"] for e in get("admin", "/v1/webhook_endpoints")["data"]] == ["http://127.0.0.1:9/a"]

    report = cli.json("campaign", "report", CID)
    assert (report["grants"]["claimed"], report["claimed_amount"]) == (2, "3798.00")
    ledger_ok = cli.json("ledger", "verify")["ok"]
    audit_ok = cli.json("audit", "verify")["ok"]
    figure(
        f"idempotency [{db_name(db_url)}]: {len(replays)} replays identical (status, body, "
        f"{', '.join(HEADERS)}), {len(reuses)} reused keys → 409 with no effect "
        f"({', '.join(reuses)}), ledger {'ok' if ledger_ok else 'BROKEN'}, "
        f"audit {'ok' if audit_ok else 'BROKEN'}"
    )
    assert ledger_ok and audit_ok
