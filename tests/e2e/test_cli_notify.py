"""`pledge notify …` and `pledge grants reinstate` through the CLI with --json, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pledge.domain.timeutil import parse_instant
from tests.drills.conftest import launch
from tests.e2e.test_cli import Pledge
from tests.support.data import write_files
from tests.support.notify import NOW, Servers, servers, write_accounts

CID = "founders-refund"
LATER = "2021-08-10T12:20:00+08:00"  # past the default 10-minute hold


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[tuple[Pledge, Servers]]:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    _, purchases = write_files(tmp_path)
    cli.json("import", "accounts", str(write_accounts(tmp_path)))
    cli.json("import", "purchases", str(purchases))
    launch(cli, tmp_path)
    cli.json("campaign", "run", CID, "--now", NOW)
    with servers(parse_instant(LATER)) as s:  # the gateway's clock: promotional SMS by day
        yield cli, s


def with_env(cli: Pledge, s: Servers, *args: str, expect: int = 0) -> Any:
    done = cli.run(*args, "--json", env=s.env, expect=expect)
    return json.loads(done.stdout) if expect == 0 else done


def test_plan_send_deliver_status_and_cancel(world: tuple[Pledge, Servers]) -> None:
    cli, s = world
    plan = cli.json("notify", "plan", CID, "--template", "grant_issued", "--now", NOW)
    assert plan["recipients"] == 3
    assert plan["by_channel"] == {"email": 2, "sms": 1, "inapp": 3}
    assert plan["suppressed"]["no_contact"] == 3
    email_only = cli.json(
        "notify", "plan", CID, "--template", "grant_issued", "--channel", "email", "--now", NOW
    )
    assert email_only["by_channel"] == {"email": 2}

    held = cli.json("notify", "send", CID, "--template", "grant_issued", "--now", NOW)
    assert held["state"] == "held" and held["recipients"] == 3 and held["id"].startswith("dist_")
    cancelled = cli.json(
        "notify", "send", CID, "--template", "grant_expiring", "--channel", "email", "--now", NOW
    )
    assert cli.json("notify", "cancel", cancelled["id"], "--now", NOW)["state"] == "cancelled"

    early = with_env(cli, s, "notify", "deliver", "--now", NOW)
    assert early["sent"] == 0 and s.message_ids() == []
    done = with_env(cli, s, "notify", "deliver", "--now", LATER)
    assert done["sent"] == 6 and done["failed"] == 0
    again = with_env(cli, s, "notify", "deliver", "--now", LATER)
    assert again["sent"] == 0
    ids = s.message_ids()
    assert len(ids) == len(set(ids)) == 3  # 2 emails, 1 SMS; the cancelled distribution sent nothing
    status = cli.json("notify", "status", held["id"])
    assert {k: status[k] for k in ("queued", "sent", "failed", "suppressed")} == {
        "queued": 0,
        "sent": 6,
        "failed": 0,
        "suppressed": 3,
    }
    assert cli.json("notify", "status", cancelled["id"])["sent"] == 0


def test_bad_input_is_named_and_exits_2(world: tuple[Pledge, Servers]) -> None:
    cli, _ = world
    refused = cli.run("notify", "plan", CID, "--template", "payout_confirm", expect=2)
    assert "template" in refused.stderr
    assert (
        "channel"
        in cli.run("notify", "plan", CID, "--template", "grant_issued", "--channel", "fax", expect=2).stderr
    )
    assert (
        "hold"
        in cli.run("notify", "send", CID, "--template", "grant_issued", "--hold", "soon", expect=2).stderr
    )
    assert "distribution" in cli.run("notify", "status", "dist_nope", expect=1).stderr
    unset = cli.run("notify", "deliver", env={"PLEDGE_PUBLIC_URL": ""}, expect=2)
    assert "PLEDGE_PUBLIC_URL" in unset.stderr
