"""Every command that changes something leaves an audit entry, as every HTTP mutation does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from pledge.adapters.sqlalchemy.api_store import ApiStore
from tests.e2e.test_cli import NOW, Pledge, write_campaign
from tests.support.data import write_files

CID = "founders-refund"


def entries(cli: Pledge, subject: str | None = None) -> list[dict[str, Any]]:
    engine = create_engine(cli.db_url)
    try:
        page = ApiStore(engine).audit_page(None, 1000, subject)
    finally:
        engine.dispose()
    return [
        {
            "action": e.record.action,
            "actor": e.record.actor,
            "api_key_id": e.record.api_key_id,
            "request_id": e.record.request_id,
            "subject": e.record.subject,
            "before": json.loads(e.record.before),
            "after": json.loads(e.record.after),
        }
        for e in page
    ]


def test_cli_mutations_are_audited_with_their_actor(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.run("import", "accounts", str(accounts), "--actor", "ops.li")
    cli.run("import", "purchases", str(purchases), "--actor", "ops.li")
    admin = cli.key("admin", "ops")
    cli.json("campaign", "apply", str(write_campaign(tmp_path)), "--key", admin)
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
    cli.json("campaign", "pause", CID, "--actor", "ops.zhao", "--now", NOW)
    cli.json("campaign", "resume", CID, "--actor", "ops.zhao", "--now", NOW)
    cli.json("campaign", "run", CID, "--actor", "ops.zhao", "--now", NOW)
    grant = cli.json("grants", "list", "--account", "A-cn-1")["data"][0]
    cli.json("grants", "claim", grant["id"], "--actor", "support.wu", "--now", NOW)
    cli.json("grants", "claim", grant["id"], "--actor", "support.wu", "--now", NOW)  # a repeat: no change
    key = cli.json("keys", "create", "--scope", "support", "--name", "support.wu", "--actor", "admin.qian")
    cli.json("keys", "revoke", key["id"], "--actor", "admin.qian")

    audit = entries(cli)
    assert [(e["action"], e["actor"]) for e in audit if e["action"].endswith(".import")] == [
        ("accounts.import", "ops.li"),
        ("purchases.import", "ops.li"),
    ]
    campaign = [e for e in audit if e["subject"] == f"campaign:{CID}"]
    assert [e["action"] for e in campaign] == [
        "campaign.apply",
        "campaign.approve",
        "campaign.launch",
        "campaign.pause",
        "campaign.resume",
        "campaign.run",
    ]
    approval = campaign[1]
    assert approval["actor"].startswith("finance (key_") and approval["api_key_id"].startswith("key_")
    assert (approval["before"]["state"], approval["after"]["state"]) == ("draft", "approved")
    assert campaign[3]["actor"] == "ops.zhao" and campaign[3]["api_key_id"] == ""
    assert all(e["request_id"].startswith("cli_") for e in audit)

    claims = [e for e in audit if e["subject"] == f"grant:{grant['id']}"]
    assert [(e["action"], e["actor"]) for e in claims] == [("grant.claim", "support.wu")] * 2
    assert (claims[0]["before"]["state"], claims[0]["after"]["state"]) == ("issued", "claimed")
    assert claims[1]["before"] == claims[1]["after"] == claims[0]["after"]  # the repeat changed nothing

    made, revoked = [e for e in audit if e["subject"] == f"api_key:{key['id']}"]
    assert (made["action"], made["actor"], made["before"]) == ("api_key.create", "admin.qian", {})
    assert "secret" not in made["after"] and made["after"]["scope"] == "support"
    assert (revoked["before"]["revoked_at"], revoked["after"]["revoked_at"] is not None) == (None, True)

    verified = cli.json("audit", "verify")
    assert verified["ok"] is True and verified["entries"] == len(audit)


def test_a_dry_run_and_a_refused_command_leave_no_entry(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    cli.run("grants", "claim", "gr_missing", expect=1)
    cli.run("campaign", "compensate", CID, "--dry-run", expect=1)
    assert entries(cli) == []
    assert cli.json("audit", "verify")["ok"] is True
