"""The CLI contract (CONTRACT.md) through real processes: JSON, exit codes, stderr."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import cli_forkserver
from tests.support.data import campaign, write_files

NOW = "2021-08-10T12:00:00+08:00"


class Pledge:
    def __init__(self, db_url: str, cwd: Path) -> None:
        self.db_url, self.cwd = db_url, cwd

    def run(
        self, *args: str, expect: int = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        # A key in the caller's environment must not act for the tests: only keys they pass do.
        inherited = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
        env = {**inherited, "PLEDGE_DATABASE_URL": self.db_url, "COLUMNS": "200", **(env or {})}
        done = cli_forkserver.run(list(args), cwd=self.cwd, env=env, timeout_s=120)
        assert done.returncode == expect, f"exit {done.returncode}: {done.stderr}{done.stdout}"
        return done

    def json(self, *args: str, expect: int = 0) -> Any:
        done = self.run(*args, "--json", expect=expect)
        return json.loads(done.stdout)

    def key(self, scope: str, name: str) -> str:
        """A new API key's secret, made as an operator would (`pledge keys create`)."""
        return str(self.json("keys", "create", "--scope", scope, "--name", name)["secret"])


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Pledge:
    pledge = Pledge(db_url, tmp_path)
    pledge.run("init")
    accounts, purchases = write_files(tmp_path)
    assert pledge.json("import", "accounts", str(accounts)) == {
        "imported": 7,
        "unchanged": 0,
        "updated": 0,
        "revoked": 0,
        "clawbacks": 0,
    }
    assert pledge.json("import", "purchases", str(purchases)) == {
        "imported": 10,
        "unchanged": 0,
        "updated": 0,
        "revoked": 0,
        "clawbacks": 0,
    }
    return pledge


def write_campaign(folder: Path, **changes: Any) -> Path:
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign(**changes), allow_unicode=True), encoding="utf-8")
    return path


def test_scenario_a_through_the_cli(cli: Pledge, tmp_path: Path) -> None:
    file = write_campaign(tmp_path)
    assert cli.json("campaign", "apply", str(file), "--key", cli.key("admin", "ops"))["changed"] is True
    assert cli.json("campaign", "apply", str(file), "--key", cli.key("admin", "ops")) == {
        "id": "founders-refund",
        "version": 1,
        "changed": False,
        "content_hash": cli.json("campaign", "apply", str(file), "--key", cli.key("admin", "ops"))[
            "content_hash"
        ],
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
    # The author's own approver key (a second key in their name) is still the author.
    refused = cli.run("campaign", "approve", "founders-refund", "--key", cli.key("approver", "ops"), expect=1)
    assert "four_eyes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    cli.json("campaign", "approve", "founders-refund", "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", "founders-refund", "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
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
    assert (
        "budget" in cli.run("campaign", "apply", str(typo), "--key", cli.key("admin", "ops"), expect=2).stderr
    )
    cli.run("grants", "claim", "gr_nope", expect=1)


def test_typo_amount_cannot_be_approved_nor_launched(cli: Pledge, tmp_path: Path) -> None:
    file = write_campaign(tmp_path, benefit={"kind": "cashback", "amount": "19990.00"})
    cli.json("campaign", "apply", str(file), "--key", cli.key("admin", "ops"))
    approver = cli.key("approver", "finance")
    refused = cli.run("campaign", "approve", "founders-refund", "--key", approver, expect=1)
    assert "error [blocking_problems]" in refused.stderr
    assert "amount_exceeds_price_paid" in refused.stderr and "P01" in refused.stderr
    not_approved = cli.run(
        "campaign", "launch", "founders-refund", "--key", cli.key("operator", "op"), expect=1
    )
    assert "not_approved" in not_approved.stderr
    assert cli.json("campaign", "report", "founders-refund")["issued_amount"] == "0.00"


def test_the_author_is_a_keys_person_never_a_typed_name(cli: Pledge, tmp_path: Path) -> None:
    file = str(write_campaign(tmp_path))
    # Were the author free text, ops could apply as "nobody" and approve with ops's own approver key.
    assert "missing_api_key" in cli.run("campaign", "apply", file, "--actor", "nobody", expect=2).stderr
    author = cli.run("keys", "create", "--scope", "admin", "--name", "ops", "--secret-only").stdout
    assert author.startswith("pk_") and author.count("\n") == 1  # the secret alone, for KEY=$(…)
    mismatch = cli.run("campaign", "apply", file, "--key", author.strip(), "--actor", "nobody", expect=1)
    assert "actor_mismatch" in mismatch.stderr
    assert cli.json("campaign", "apply", file, "--key", author.strip())["changed"] is True
    own = cli.run("campaign", "approve", "founders-refund", "--key", cli.key("approver", "ops"), expect=1)
    assert "four_eyes" in own.stderr


def test_approve_and_launch_need_the_persons_own_key(cli: Pledge, tmp_path: Path) -> None:
    cli.json("campaign", "apply", str(write_campaign(tmp_path)), "--key", cli.key("admin", "ops"))
    approve = ("campaign", "approve", "founders-refund")
    imitation = cli.run("keys", "create", "--scope", "approver", "--name", "ops (key_x)", expect=2)
    assert "invalid_person" in imitation.stderr  # no name can pose as another person's key
    missing = cli.run(*approve, expect=2)
    assert "error [missing_api_key]" in missing.stderr and "pledge keys create" in missing.stderr
    assert "missing_api_key" in cli.run(*approve, "--actor", "finance", expect=2).stderr  # a name is no key
    assert "invalid_api_key" in cli.run(*approve, "--key", "pk_live_not-a-key", expect=1).stderr
    operator = cli.key("operator", "ops.zhao")
    assert "insufficient_scope" in cli.run(*approve, "--key", operator, expect=1).stderr
    revoked = cli.json("keys", "create", "--scope", "approver", "--name", "finance")
    cli.json("keys", "revoke", revoked["id"])
    assert "api_key_revoked" in cli.run(*approve, "--key", revoked["secret"], expect=1).stderr
    approver = cli.key("approver", "finance")
    mismatch = cli.run(*approve, "--key", approver, "--actor", "someone.else", expect=1)
    assert "error [actor_mismatch]" in mismatch.stderr
    assert cli.json("campaign", "report", "founders-refund")["state"] == "draft"  # nothing was approved

    # $PLEDGE_API_KEY, with --actor naming the same person (any spelling): the key's person acts.
    done = cli.run(*approve, "--actor", " Finance ", "--json", env={"PLEDGE_API_KEY": approver})
    approved = json.loads(done.stdout)
    assert approved["approved_by"].startswith("finance (key_")
    assert "missing_api_key" in cli.run("campaign", "launch", "founders-refund", expect=2).stderr
    launched = cli.json("campaign", "launch", "founders-refund", "--key", operator, "--now", NOW)
    assert launched["state"] == "active"
