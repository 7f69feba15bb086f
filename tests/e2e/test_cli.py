"""The CLI contract (CONTRACT.md) through real processes: JSON, exit codes, stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.data import campaign, write_files

NOW = "2021-08-10T12:00:00+08:00"


class Pledge:
    def __init__(self, db_url: str, cwd: Path) -> None:
        self.db_url, self.cwd = db_url, cwd

    def run(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PLEDGE_DATABASE_URL": self.db_url, "COLUMNS": "200"}
        done = subprocess.run(
            [sys.executable, "-m", "pledge", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == expect, f"exit {done.returncode}: {done.stderr}{done.stdout}"
        return done

    def json(self, *args: str, expect: int = 0) -> Any:
        done = self.run(*args, "--json", expect=expect)
        return json.loads(done.stdout)


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Pledge:
    pledge = Pledge(db_url, tmp_path)
    pledge.run("init")
    accounts, purchases = write_files(tmp_path)
    assert pledge.json("import", "accounts", str(accounts)) == {"imported": 7, "unchanged": 0}
    assert pledge.json("import", "purchases", str(purchases)) == {"imported": 10, "unchanged": 0}
    return pledge


def write_campaign(folder: Path, **changes: Any) -> Path:
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign(**changes), allow_unicode=True), encoding="utf-8")
    return path


def test_scenario_a_through_the_cli(cli: Pledge, tmp_path: Path) -> None:
    file = write_campaign(tmp_path)
    assert cli.json("campaign", "apply", str(file), "--actor", "ops")["changed"] is True
    assert cli.json("campaign", "apply", str(file), "--actor", "ops") == {
        "id": "founders-refund",
        "version": 1,
        "changed": False,
        "content_hash": cli.json("campaign", "apply", str(file), "--actor", "ops")["content_hash"],
    }
    sim = cli.json("campaign", "simulate", "founders-refund")
    for key in (
        "evaluated",
        "qualifying",
        "grants",
        "amount",
        "currency",
        "budget_exhausted",
        "rejections",
        "near_misses",
        "problems",
    ):
        assert key in sim
    late = next(m for m in sim["near_misses"] if m["purchase_id"] == "P04")
    assert (late["condition"], late["distance_days"]) == ("purchased", 1)
    refused = cli.run("campaign", "approve", "founders-refund", "--actor", "ops", expect=1)
    assert "four_eyes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    cli.json("campaign", "approve", "founders-refund", "--actor", "finance")
    cli.json("campaign", "launch", "founders-refund", "--actor", "finance", "--now", NOW)
    run = cli.json("campaign", "run", "founders-refund", "--now", NOW)
    assert (run["issued"], run["amount"], run["budget_exhausted"]) == (3, "5297.00", 0)
    assert cli.json("campaign", "run", "founders-refund", "--now", NOW)["issued"] == 0

    listed = cli.json("grants", "list", "--campaign", "founders-refund", "--limit", "2")
    assert listed["has_more"] is True and len(listed["data"]) == 2
    rest = cli.json(
        "grants", "list", "--campaign", "founders-refund", "--starting-after", listed["data"][-1]["id"]
    )
    assert rest["has_more"] is False and len(rest["data"]) == 1
    grant = cli.json("grants", "list", "--account", "A-cn-1")["data"][0]
    for key in ("id", "campaign", "account_id", "purchase_id", "amount", "currency", "state", "expires_at"):
        assert key in grant
    claimed = cli.json("grants", "claim", grant["id"], "--now", NOW)
    assert claimed["state"] == "claimed"
    assert cli.json("grants", "claim", grant["id"], "--now", NOW) == claimed
    assert cli.json("grants", "expire", "--now", "2021-09-20T00:00:00Z")["expired"] == 2

    report = cli.json("campaign", "report", "founders-refund")
    assert report["state"] == "active"
    assert (report["issued_amount"], report["claimed_amount"], report["expired_amount"]) == (
        "5297.00",
        "1999.00",
        "3298.00",
    )
    assert report["grants"]["expired"] == 2
    explained = cli.json("explain", "A-cn-3", "--campaign", "founders-refund")
    assert explained["qualifies"] is False
    assert explained["purchases"][0]["conditions"][0]["name"] == "purchased"
    assert cli.json("ledger", "verify")["ok"] is True
    human = cli.run("campaign", "simulate", "founders-refund").stdout
    assert "Near misses" in human


def test_exit_codes_and_errors(cli: Pledge, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n"
        "X1,A-cn-1,mi-1,S,2011-10-01T10:00:00,1999.00,CNY,completed,web\n",
        encoding="utf-8",
    )
    refused = cli.run("import", "purchases", str(bad), expect=2)
    assert "purchased_at" in refused.stderr and "offset" in refused.stderr
    cli.run("campaign", "simulate", "no-such-campaign", expect=1)
    cli.run("campaign", "report", expect=2)  # missing argument: usage error
    typo = write_campaign(tmp_path, budget=50000000.0)
    assert "budget" in cli.run("campaign", "apply", str(typo), expect=2).stderr
    cli.run("grants", "claim", "gr_nope", expect=1)


def test_typo_amount_is_refused_at_launch(cli: Pledge, tmp_path: Path) -> None:
    file = write_campaign(tmp_path, benefit={"kind": "cashback", "amount": "19990.00"})
    cli.json("campaign", "apply", str(file), "--actor", "ops")
    cli.json("campaign", "approve", "founders-refund", "--actor", "finance")
    refused = cli.run("campaign", "launch", "founders-refund", "--actor", "finance", expect=1)
    assert "amount_exceeds_price_paid" in refused.stderr and "P01" in refused.stderr
    assert cli.json("campaign", "report", "founders-refund")["issued_amount"] == "0.00"
