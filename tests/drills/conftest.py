"""Standing drills: the product driven from outside (CLI processes, HTTP to `pledge serve`).

Each drill prints one line with its figure and adds it to the summary at the end of the run.
``PLEDGE_DRILL_SCALE=full`` (set by ``make drills``) runs the long forms; the default is the
bounded subset the normal test suite runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_cli import NOW, Pledge
from tests.support.data import campaign, write_files
from tests.support.serve import pledge_serve

FULL = os.environ.get("PLEDGE_DRILL_SCALE", "small") == "full"
FIGURES: list[str] = []


def scaled(small: int, full: int) -> int:
    return full if FULL else small


def db_name(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


def figure(line: str) -> None:
    """Print a drill's figure now (seen with -s) and again in the run's summary."""
    print(line, flush=True)
    FIGURES.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("drill figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def prepared(db_url: str, folder: Path, **changes: object) -> Pledge:
    """Scenario A's small data set imported; its campaign applied, approved and launched."""
    cli = Pledge(db_url, folder)
    cli.run("init")
    accounts, purchases = write_files(folder)
    cli.json("import", "accounts", str(accounts))
    cli.json("import", "purchases", str(purchases))
    launch(cli, folder, **changes)
    return cli


def launch(cli: Pledge, folder: Path, *, accept_shortfall: bool = False, **changes: object) -> str:
    """Apply (admin), approve (another person's approver key) and launch (operator) a campaign."""
    doc = campaign(**changes)
    path = folder / f"{doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    cli.json("campaign", "apply", str(path), "--key", cli.key("admin", "ops"))
    cli.json("campaign", "approve", doc["id"], "--key", cli.key("approver", "finance"))
    launch_args = ["campaign", "launch", doc["id"], "--key", cli.key("operator", "op"), "--now", NOW]
    if accept_shortfall:
        shortfall = cli.json("campaign", "simulate", doc["id"])["budget_exhausted"]
        launch_args += ["--accept-shortfall", str(shortfall)]
    cli.json(*launch_args)
    return str(doc["id"])


@contextmanager
def serving(db_url: str, folder: Path, now: str = NOW) -> Iterator[str]:
    """A `pledge serve` child process on a free loopback port; yields its base URL."""
    with pledge_serve(db_url, folder, "--now", now) as url:
        yield url
