"""One claim, end to end: over HTTP the grant row is read once to decide (under its lock), a
customer reaches only their own grants, and the CLI claims through the same use case, recording
the same events in the one event log (ADR 20)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from pledge.adapters.sqlalchemy.event_log import read_events
from tests.integration.test_api_support import NOW, Api, running_api

# A statement that reads grant rows (SQLAlchemy quotes nothing here: "grants" is no reserved word).
READS_GRANTS = re.compile(r"^\s*SELECT\b.*\bFROM grants\b", re.IGNORECASE | re.DOTALL)


@contextmanager
def grant_reads() -> Iterator[list[tuple[Engine, str]]]:
    """Every SELECT on ``grants`` any engine of this process runs meanwhile, with its engine."""
    seen: list[tuple[Engine, str]] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if READS_GRANTS.search(statement):
            seen.append((conn.engine, statement))

    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", before)


def launched(api: Api, folder: Path) -> dict[str, dict[str, Any]]:
    api.load_data(folder)
    api.launch()
    assert api.run()["result"]["issued"] == 3
    return {g["account_id"]: g for g in api.get("/v1/grants", "operator").json()["data"]}


def new_events(api: Api, after: int) -> list[dict[str, Any]]:
    with api.app.engine.connect() as conn:
        return [e for e in read_events(conn, after) if e["type"] != "GrantsIssued"]


def last_seq(api: Api) -> int:
    with api.app.engine.connect() as conn:
        found = read_events(conn, 0, 1_000_000)
    return found[-1]["seq"] if found else 0


def test_an_http_claim_reads_its_grant_once_to_decide(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url) as api:
        grant = launched(api, tmp_path)["A-cn-1"]
        with grant_reads() as reads:
            response = api.post(f"/v1/grants/{grant['id']}/claim", "customer")
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "claimed"
        # Two reads, both in the claim's transaction: the audit entry's "before" state, then the
        # decision (the claim use case's get(..., for_update=True)); the "after" state comes from
        # the recorded event, not from reading the row again.
        assert len(reads) == 2, reads
        assert all(engine is api.app.engine for engine, _ in reads), reads
        audit = api.get("/v1/audit", "admin", limit=100).json()["data"]
        (entry,) = [e for e in audit if e["action"] == "grant.claim"]
        assert (entry["before"]["state"], entry["after"]["state"]) == ("issued", "claimed")
        assert entry["after"] == response.json()


def test_a_customer_claims_only_their_own_grant(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url) as api:
        by_account = launched(api, tmp_path)
        theirs = by_account["A-cn-2"]
        seq = last_seq(api)
        refused = api.post(f"/v1/grants/{theirs['id']}/claim", "customer")
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "grant_not_found"
        assert refused.json()["error"]["param"] == "grant_id"
        missing = api.post("/v1/grants/gr_missing/claim", "customer")
        assert (missing.status_code, missing.json()["error"]) == (
            404,
            refused.json()["error"] | {"message": "grant gr_missing does not exist"},
        )
        assert api.get(f"/v1/grants/{theirs['id']}", "operator").json()["state"] == "issued"
        assert new_events(api, seq) == []
        assert api.post(f"/v1/grants/{theirs['id']}/claim", "customer2").status_code == 200
        assert [e["type"] for e in new_events(api, seq)] == ["GrantClaimed"]


def test_the_cli_and_http_claims_record_the_same_events(sqlite_url: str, tmp_path: Path) -> None:
    with running_api(sqlite_url) as api:
        by_account = launched(api, tmp_path)
        seq = last_seq(api)
        over_http = api.post(f"/v1/grants/{by_account['A-cn-1']['id']}/claim", "customer").json()
        cli_grant = by_account["A-cn-2"]["id"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pledge",
                "grants",
                "claim",
                cli_grant,
                "--db",
                sqlite_url,
                "--now",
                NOW,
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        events = new_events(api, seq)
        assert [e["type"] for e in events] == ["GrantClaimed", "GrantClaimed"]
        http_event, cli_event = (e["data"]["grant"] for e in events)
        assert (http_event["id"], cli_event["id"]) == (over_http["id"], cli_grant)
        assert {k for k in http_event if http_event[k] != cli_event[k]} <= {
            "id",
            "account_id",
            "purchase_id",
            "amount_minor",
            "claimed_at_us",
        }
        assert http_event["state"] == cli_event["state"] == "claimed"
