"""Long commands show progress on stderr when it is a terminal, and never touch stdout's JSON."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import Pledge, write_campaign
from tests.support.data import write_files


@pytest.fixture
def launched(db_url: str, tmp_path: Path) -> Pledge:
    pledge = Pledge(db_url, tmp_path)
    pledge.run("init")
    accounts, purchases = write_files(tmp_path)
    pledge.run("import", "accounts", str(accounts))
    pledge.run("import", "purchases", str(purchases))
    pledge.run("campaign", "apply", str(write_campaign(tmp_path)), "--key", pledge.key("admin", "ops"))
    pledge.run("campaign", "approve", "founders-refund", "--key", pledge.key("approver", "finance"))
    pledge.run(
        "campaign",
        "launch",
        "founders-refund",
        "--key",
        pledge.key("operator", "op"),
        "--now",
        "2021-08-20T00:00:00Z",
    )
    pledge.run("campaign", "run", "founders-refund", "--now", "2021-08-20T00:00:00Z")
    return pledge


def _with_terminal_stderr(pledge: Pledge, *args: str) -> tuple[Any, str]:
    """Run with stderr on a pseudo-terminal and stdout on a pipe: (stdout's JSON, what stderr showed)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PLEDGE_DATABASE_URL": pledge.db_url, "TERM": "xterm", "COLUMNS": "120"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pledge", *args, "--json"],
            cwd=pledge.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=120,
            check=False,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: everything is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0, shown
    return json.loads(done.stdout), shown.decode("utf-8", "replace")


def test_expiry_and_the_dry_run_show_progress_on_a_terminal_only(launched: Pledge) -> None:
    result, shown = _with_terminal_stderr(launched, "grants", "expire", "--now", "2021-09-20T00:00:00Z")
    assert result == {
        "expired": 3,
        "dry_run": False,
        "changed": 3,
        "amounts": [{"amount": "5297.00", "currency": "CNY"}],
        "batches": 1,
    }
    assert "expiring" in shown
    simulated, shown = _with_terminal_stderr(launched, "campaign", "simulate", "founders-refund")
    assert simulated["campaign"] == "founders-refund"
    stages = ("scanning every purchase", "looking for problems", "deciding the grants", "finding near misses")
    assert any(stage in shown for stage in stages), shown  # the stage under way when it drew
    # Without a terminal (a script, a pipe) stderr stays empty.
    done = launched.run("grants", "expire", "--now", "2021-09-21T00:00:00Z", "--json")
    assert json.loads(done.stdout)["expired"] == 0 and done.stderr == ""


def test_expiry_at_an_earlier_business_time_than_the_last_is_a_no_op(launched: Pledge) -> None:
    first = launched.json("grants", "expire", "--now", "2021-09-20T00:00:00Z")
    again = launched.json("grants", "expire", "--now", "2021-09-01T00:00:00Z")
    assert first["expired"] == 3 and again["expired"] == 0
    assert {g["state"] for g in launched.json("grants", "list")["data"]} == {"expired"}
