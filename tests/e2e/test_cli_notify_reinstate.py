"""``pledge grants reinstate`` as a real process on SQLite and PostgreSQL: it needs the person's own
key; above ``payout.reinstate_review_above`` the first person's call leaves the grant expired and a
second key of that person is refused, a different person re-opens it; the ledger verifies."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import Pledge, write_campaign
from tests.support.data import write_files

CID = "founders-refund"
NOW = "2021-08-10T12:00:00+08:00"
EXPIRED = "2021-09-20T12:00:00+08:00"  # past the 30-day claim window
PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "reinstate_review_above": "500.00"}


def test_two_people_reopen_an_expired_envelope_above_the_amount(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.run("import", "accounts", str(accounts))
    cli.run("import", "purchases", str(purchases))
    cli.json(
        "campaign", "apply", str(write_campaign(tmp_path, payout=PAYOUT)), "--key", cli.key("admin", "ops")
    )
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
    cli.json("campaign", "run", CID, "--now", NOW)
    assert cli.json("grants", "expire", "--now", EXPIRED)["expired"] == 3
    grant = next(
        g for g in cli.json("grants", "list", "--campaign", CID)["data"] if g["purchase_id"] == "P01"
    )
    reopen = ("grants", "reinstate", grant["id"], "--reason", "missed the notice", "--now", EXPIRED)
    assert "PLEDGE_API_KEY" in cli.run(*reopen, expect=2).stderr
    assert "may not" in cli.run(*reopen, "--key", cli.key("finance", "fin.zhou"), expect=1).stderr
    first = cli.json(*reopen, "--key", cli.key("support", "cs.wang"))
    assert first["state"] == "expired" and first["reinstatement"]["state"] == "pending_second_approval"
    again = cli.run(*reopen, "--key", cli.key("support", "CS.Wang"), expect=1)
    assert "second, different person" in again.stderr
    reopened = cli.json(*reopen, "--key", cli.key("operator", "ops.li"))
    assert reopened["state"] == "issued" and reopened["expires_at"] > first["expires_at"]
    assert cli.json("ledger", "verify")["ok"] is True
