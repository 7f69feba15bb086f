"""Crash drill: `kill -9` at random points, restart until done → every effect exactly once.

Each command runs twice over identical data: once cleanly on a twin database (the reference
counts, and how long a run takes), once killed with SIGKILL after a seeded random delay and
restarted, again and again, until it completes. The crashed database must end exactly where
the clean one did, with the ledger's and the audit log's hash chains intact.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pledge.adapters.sqlalchemy.notification_tables import notification_messages
from pledge.bootstrap import App, FixedClock
from pledge.usecases.subscriptions import buy_subscription
from tests.conftest import fresh_postgres_schema
from tests.drills.conftest import NOW, db_name, figure, launch, scaled
from tests.e2e.test_cli import Pledge
from tests.support import cli_forkserver
from tests.support.billing import BUY_AT, CAMPAIGN_ID, PLAN_IDS, offer, plans, us, write_yaml

KILLS = scaled(6, 24)  # the bounded subset kills a few times; `make drills` at least 20
EXPIRE_AT = "2021-10-01T00:00:00+08:00"  # past every 30-day claim window of a run at NOW
COMPENSATE_AT = "2023-11-06T09:00:00+08:00"
SEED = int(os.environ.get("PLEDGE_DRILL_SEED", str(random.SystemRandom().randrange(1 << 32))))


@pytest.fixture
def twin_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind as ``db_url``, for the clean run."""
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'clean.db'}"
        return
    with fresh_postgres_schema() as url:
        yield url


def command(kind: str) -> tuple[str, ...]:
    return {
        "campaign run": ("campaign", "run", "founders-refund", "--now", NOW),
        "grants expire": ("grants", "expire", "--now", EXPIRE_AT),
        "campaign compensate": (
            "campaign",
            "compensate",
            CAMPAIGN_ID,
            "--actor",
            "ops",
            "--now",
            COMPENSATE_AT,
        ),
    }[kind]


def prepare(kind: str, db_url: str, folder: Path, data: dict[str, Any]) -> Pledge:
    """The state just before ``kind`` runs: data imported, campaign launched (and run, to expire)."""
    cli = Pledge(db_url, folder)
    cli.run("init")
    cli.json("import", "accounts", data["accounts_file"])
    if kind == "campaign compensate":
        prepare_offer(cli, folder, db_url, data["accounts"])
        return cli
    cli.json("import", "purchases", data["purchases_file"])
    launch(cli, folder)
    if kind == "grants expire":
        cli.json(*command("campaign run"))
    return cli


def prepare_offer(cli: Pledge, folder: Path, db_url: str, accounts: int) -> None:
    """Scenario B at scale: every account buys a plan under terms v1; then v2 is approved."""
    cli.json("plans", "apply", str(write_yaml(folder / "plans.yaml", plans())), "--actor", "ops")
    cli.json(
        "campaign", "apply", str(write_yaml(folder / "v1.yaml", offer(1))), "--key", cli.key("admin", "ops")
    )
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", cli.key("approver", "fin"))
    cli.json("campaign", "launch", CAMPAIGN_ID, "--key", cli.key("operator", "op"))
    app = App(db_url)  # set-up only: thousands of purchases, faster than one process each
    try:
        for n in range(1, accounts + 1):
            buy_subscription(app.uow, FixedClock(us(BUY_AT)), f"A{n:07d}", PLAN_IDS[n % len(PLAN_IDS)])
    finally:
        app.close()
    cli.json(
        "campaign", "apply", str(write_yaml(folder / "v2.yaml", offer(2))), "--key", cli.key("admin", "ops")
    )
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", cli.key("approver", "fin"))


def effects(kind: str, cli: Pledge) -> dict[str, Any]:
    """What a user sees of the command's effects, to compare with the clean run's."""
    if kind == "campaign compensate":
        report = cli.json("campaign", "report", CAMPAIGN_ID)
        after = cli.json(
            "campaign", "compensate", CAMPAIGN_ID, "--dry-run", "--actor", "ops", "--now", COMPENSATE_AT
        )
        return {
            "compensation": report["compensation"],
            "pending": len(after["items"]),
            "skipped": after["skipped"],
            "told": compensation_messages(cli.db_url),  # the customers told of it, once each
        }
    report = cli.json("campaign", "report", "founders-refund")
    keep = ("grants", "issued_amount", "claimed_amount", "expired_amount", "budget_remaining")
    return {key: report[key] for key in keep}


def compensation_messages(db_url: str) -> dict[str, int]:
    """``compensation_applied`` messages by channel and state, and their distributions (one per term)."""
    m = notification_messages
    app = App(db_url)
    try:
        with app.engine.connect() as conn:
            rows = conn.execute(
                select(m.c.channel, m.c.state, func.count(), func.count(func.distinct(m.c.distribution_id)))
                .where(m.c.template == "compensation_applied")
                .group_by(m.c.channel, m.c.state)
            ).all()
    finally:
        app.close()
    return {f"{channel} {state}": n for channel, state, n, _ in rows} | {
        f"{channel} {state} distributions": k for channel, state, _, k in rows
    }


def done_count(kind: str, result: dict[str, Any]) -> int:
    return int(result.get("issued", result.get("expired", result.get("applied", 0))))


def timed(cli: Pledge, args: tuple[str, ...]) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    result = cli.json(*args)
    return time.monotonic() - start, result


def crash_until_done(
    cli: Pledge, args: tuple[str, ...], rng: random.Random, low_s: float, high_s: float
) -> int:
    """Start, SIGKILL after a random delay, restart: ``KILLS`` times at least; then let it finish."""
    env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    env["PLEDGE_DATABASE_URL"] = cli.db_url
    kills = 0
    while True:
        proc = cli_forkserver.start([*args, "--json"], cwd=cli.cwd, env=env)
        try:
            out, err = proc.communicate(timeout=rng.uniform(low_s, high_s) if kills < KILLS else 600)
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL: no handler, no clean-up, like a power cut of the process
            proc.communicate()
            kills += 1
            continue
        assert proc.returncode == 0, f"exit {proc.returncode} after {kills} kills: {err}{out}"
        if kills >= KILLS:
            return kills


@pytest.mark.parametrize("kind", ["campaign run", "grants expire", "campaign compensate"])
def test_crash_drill_every_effect_exactly_once(db_url: str, twin_url: str, tmp_path: Path, kind: str) -> None:
    purchases = scaled(2_000, 20_000) if kind != "campaign compensate" else 0
    accounts = scaled(300, 3_000)
    gen = Pledge(twin_url, tmp_path)
    data = gen.json(
        "generate", str(tmp_path / "data"), "--purchases", str(max(purchases, accounts * 2)), "--seed", "7"
    )
    data["accounts"] = accounts
    args = command(kind)
    (tmp_path / "clean").mkdir()
    (tmp_path / "crash").mkdir()
    clean = prepare(kind, twin_url, tmp_path / "clean", data)
    full_s, first = timed(clean, args)
    noop_s, second = timed(clean, args)  # start-up and a scan that finds nothing left to do
    assert done_count(kind, first) > 0 and done_count(kind, second) == 0
    expected = effects(kind, clean)

    crashed = prepare(kind, db_url, tmp_path / "crash", data)
    rng = random.Random(SEED)
    work_s = max(full_s - noop_s, 0.05)
    # A run, and an expiry of one campaign (ADR 36), is one transaction: any instant before it
    # ends is a crash point. Batched commands commit as they go: shorter delays, so most kills
    # land with the work part-done.
    high_s = full_s if kind in ("campaign run", "grants expire") else noop_s + work_s / 4
    kills = crash_until_done(crashed, args, rng, noop_s * 0.5, high_s)
    got = effects(kind, crashed)
    ledger_ok = crashed.json("ledger", "verify")["ok"]
    audit_ok = crashed.json("audit", "verify")["ok"]
    figure(
        f"crash drill [{db_name(db_url)}] {kind}: seed {SEED}, {kills} kill -9 between "
        f"{noop_s * 0.5:.2f}s and {high_s:.2f}s (clean run {full_s:.2f}s, "
        f"{done_count(kind, first)} effects), "
        f"{'same effects as the clean run' if got == expected else 'EFFECTS DIFFER'}, "
        f"ledger {'ok' if ledger_ok else 'BROKEN'}, audit {'ok' if audit_ok else 'BROKEN'}"
    )
    assert got == expected
    assert ledger_ok and audit_ok
