"""Corrections through the CLI as a real process, on SQLite and PostgreSQL (ADR 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import NOW, Pledge, write_campaign
from tests.support.data import PURCHASES, write_files

CID = "founders-refund"


@pytest.fixture
def pledge(db_url: str, tmp_path: Path) -> Pledge:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.run("import", "accounts", str(accounts))
    cli.run("import", "purchases", str(purchases))
    return cli


def launched(cli: Pledge, folder: Path) -> dict[str, str]:
    """The campaign launched and run; grant id per purchase id."""
    file = str(write_campaign(folder))
    cli.json("campaign", "apply", file, "--key", cli.key("admin", "ops"))
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == 3
    return {g["purchase_id"]: g["id"] for g in cli.json("grants", "list", "--campaign", CID)["data"]}


def test_update_revoke_and_clawbacks_through_the_cli(pledge: Pledge, tmp_path: Path) -> None:
    cli = pledge
    grants = launched(cli, tmp_path)
    cli.json("grants", "claim", grants["P01"], "--now", NOW)
    statuses = {"P01": "refunded", "P03": "returned"}
    (tmp_path / "v2").mkdir()
    _, changed = write_files(tmp_path / "v2", [(*row[:6], statuses.get(row[0], row[6])) for row in PURCHASES])
    result = cli.json("import", "purchases", str(changed), "--update", "--now", NOW, "--actor", "ops.zhao")
    assert result == {"imported": 2, "unchanged": 8, "updated": 2, "revoked": 1, "clawbacks": 1}
    plain = cli.run("import", "purchases", str(changed), "--update")
    assert "0 updated; grants revoked 0, claw-backs 0" in plain.stdout

    (case,) = cli.json("grants", "clawbacks", "--campaign", CID)["data"]
    assert (case["grant_id"], case["reason"], case["state"], case["amount"]) == (
        grants["P01"],
        "purchase_refunded",
        "open",
        "1999.00",
    )
    assert "purchase_refunded" in cli.run("grants", "clawbacks").stdout
    refused = cli.run("grants", "claim", grants["P03"], "--now", NOW, expect=1)
    assert "grant_revoked" in refused.stderr

    revoked = cli.json("grants", "revoke", grants["P10"], "--reason", "duplicate account", "--now", NOW)
    assert (revoked["state"], revoked["revoked_reason"]) == ("revoked", "duplicate account")
    assert cli.json("grants", "revoke", grants["P10"], "--reason", "again") == revoked
    opened = cli.run("grants", "revoke", grants["P01"], "--reason", "asked", expect=1)
    assert "grant_claimed" in opened.stderr and len(opened.stderr.strip().splitlines()) == 1
    assert cli.run("grants", "revoke", grants["P01"], "--reason", " ", expect=2).stderr

    report = cli.json("campaign", "report", CID)
    assert report["clawbacks"] == {"open": 1, "open_amount": "1999.00"}
    assert (report["budget_remaining"], report["revoked_amount"]) == ("49998001.00", "3298.00")
    assert cli.json("ledger", "verify")["ok"] is True
