"""Claim storm: 100 concurrent claims of one red envelope over HTTP open it exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.drills.conftest import NOW, db_name, figure, prepared, serving

REQUESTS = 100


def storm(url: str, path: str, secret: str, keys: list[str | None]) -> list[httpx.Response]:
    """Fire one POST per entry of ``keys`` (its Idempotency-Key) at once, from as many threads."""
    barrier = threading.Barrier(len(keys))
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def fire(key: str | None) -> None:
        headers = {"Authorization": f"Bearer {secret}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        with httpx.Client(base_url=url, timeout=120) as client:
            barrier.wait()
            response = client.post(path, headers=headers)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=fire, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.parametrize("keys", ["same", "different"])
def test_claim_storm_opens_the_envelope_once(db_url: str, tmp_path: Path, keys: str) -> None:
    cli = prepared(db_url, tmp_path)
    assert cli.json("campaign", "run", "founders-refund", "--now", NOW)["issued"] == 3
    customer = str(
        cli.json("keys", "create", "--scope", "customer", "--name", "A-cn-1", "--account", "A-cn-1")["secret"]
    )
    with serving(db_url, tmp_path) as url:
        auth = {"Authorization": f"Bearer {customer}"}
        grant = httpx.get(f"{url}/v1/grants", headers=auth, timeout=60).json()["data"][0]
        idempotency = ["storm"] * REQUESTS if keys == "same" else [f"storm-{n}" for n in range(REQUESTS)]
        responses = storm(url, f"/v1/grants/{grant['id']}/claim", customer, list(idempotency))
        after = httpx.get(f"{url}/v1/grants/{grant['id']}", headers=auth, timeout=60).json()

    statuses = Counter(r.status_code for r in responses)
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    claimed = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    report = cli.json("campaign", "report", "founders-refund")
    ledger_ok = cli.json("ledger", "verify")["ok"]
    audit_ok = cli.json("audit", "verify")["ok"]
    figure(
        f"claim storm [{db_name(db_url)}] {keys} keys: {len(responses)} requests, "
        f"{report['grants']['claimed']} claim, statuses {dict(sorted(statuses.items()))}, "
        f"{server_errors} 5xx, claimed {report['claimed_amount']} of {grant['amount']}, "
        f"ledger {'ok' if ledger_ok else 'BROKEN'}, audit {'ok' if audit_ok else 'BROKEN'}"
    )
    assert server_errors == 0, [r.text for r in responses if r.status_code >= 500][:3]
    assert claimed, statuses  # at least one request got through and opened it
    assert all(r.json()["state"] == "claimed" and r.json()["id"] == grant["id"] for r in claimed)
    assert len({r.json()["claimed_at"] for r in claimed}) == 1  # every success reports the one claim
    for r in refused:  # refused cleanly: a documented error code, nothing half-done
        assert r.status_code in (409, 429), (r.status_code, r.text)
        assert r.json()["error"]["code"], r.text
    assert after["state"] == "claimed"
    assert report["grants"]["claimed"] == 1
    assert report["claimed_amount"] == grant["amount"]
    assert ledger_ok and audit_ok
