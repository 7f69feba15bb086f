"""Crash drill for `notify deliver`: `kill -9` at random points, restart, until everything is done.

A distribution of one email (and one in-app message) per account is delivered by a worker that is
SIGKILLed again and again after a seeded random delay, against a real SMTP server on loopback.
Afterwards the server must have received every message at most once, and every message must be
recorded ``sent`` or — a claim the killed worker never answered — ``unknown``; nothing is left
queued, and no ``sent`` message is missing at the server. In-app messages, written with their
answer, are all sent.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

from pledge.adapters.sqlalchemy.database import make_engine
from tests.drills.conftest import db_name, figure, launch, scaled
from tests.e2e.test_cli import Pledge
from tests.support import cli_forkserver
from tests.support.notify import NOW, Servers, servers

KILLS = scaled(5, 20)
SEED = int(os.environ.get("PLEDGE_DRILL_SEED", str(random.SystemRandom().randrange(1 << 32))))
CID = "founders-refund"
DELIVER = ("notify", "deliver", "--now", NOW, "--batch", "3", "--lease", "1s")


def write_data(folder: Path, accounts: int) -> tuple[Path, Path]:
    accounts_path, purchases_path = folder / "accounts.csv", folder / "purchases.csv"
    with accounts_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "region", "registered_at", "email", "phone", "locale"])
        for n in range(accounts):
            locale = "en" if n % 2 else "zh-CN"
            writer.writerow(
                [f"C{n:05d}", "CN", "2011-01-01T00:00:00+08:00", f"c{n:05d}@example.com", "", locale]
            )
    with purchases_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["purchase_id", "account_id", "sku", "serial", "purchased_at", "price", "currency",
                         "status", "channel"])  # fmt: skip
        for n in range(accounts):
            writer.writerow([f"P{n:05d}", f"C{n:05d}", "mi-1", f"S{n:05d}", "2011-10-01T10:00:00+08:00",
                             "99.00", "CNY", "completed", "online"])  # fmt: skip
    return accounts_path, purchases_path


def deliver_process(cli: Pledge, s: Servers) -> cli_forkserver.Process:
    env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    env |= {"PLEDGE_DATABASE_URL": cli.db_url, **s.env}
    return cli_forkserver.start([*DELIVER, "--json"], cwd=cli.cwd, env=env)


def states(db_url: str) -> Counter[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT channel, state FROM notification_messages").all()
    finally:
        engine.dispose()
    return Counter(f"{channel}:{state}" for channel, state in rows)


def sent_email_ids(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT message_id FROM notification_messages WHERE channel = 'email' AND state = 'sent'"
            ).all()
    finally:
        engine.dispose()
    return {row[0] for row in rows}


def test_notify_crash_drill_every_message_at_most_once(db_url: str, tmp_path: Path) -> None:
    accounts = scaled(60, 600)
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts_path, purchases_path = write_data(tmp_path, accounts)
    cli.json("import", "accounts", str(accounts_path))
    cli.json("import", "purchases", str(purchases_path))
    launch(cli, tmp_path, limits={"per_account": 1, "per_serial": 1})
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == accounts
    rng = random.Random(SEED)
    with servers(None) as s:
        start = time.monotonic()
        cli.run(*DELIVER, env=s.env)  # nothing due yet: start-up and an empty pass
        idle_s = time.monotonic() - start
        dist = cli.json("notify", "send", CID, "--template", "grant_issued", "--channel", "email,inapp",
                        "--hold", "0s", "--now", NOW)  # fmt: skip
        kills = 0
        while kills < KILLS:
            proc = deliver_process(cli, s)
            try:
                proc.communicate(timeout=rng.uniform(idle_s * 0.6, idle_s * 1.6))
            except subprocess.TimeoutExpired:
                proc.kill()  # SIGKILL: no handler, no clean-up
                proc.communicate()
                kills += 1
                continue
            if states(db_url)["email:queued"] == 0:
                break  # everything was handled before the drill could kill it again
        time.sleep(1.2)  # past the lease: a claim no one answered is now recorded unknown
        for _ in range(2):
            proc = deliver_process(cli, s)
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err + out
        received = Counter(s.message_ids())
    counts = states(db_url)
    twice = [mid for mid, n in received.items() if n > 1]
    figure(
        f"notify crash drill [{db_name(db_url)}]: seed {SEED}, {kills} kill -9, {accounts} accounts: "
        f"email sent {counts['email:sent']}, unknown {counts['email:unknown']}, in-app sent "
        f"{counts['inapp:sent']} unknown {counts['inapp:unknown']}, received twice {len(twice)}"
    )
    assert twice == []  # at most once, whatever was killed where
    assert counts["email:queued"] == counts["email:sending"] == counts["inapp:queued"] == 0
    assert counts["email:sent"] + counts["email:unknown"] == accounts
    assert counts["inapp:sent"] == accounts  # written with its answer: a killed claim is simply retaken
    assert sent_email_ids(db_url) <= set(received)  # every message recorded sent was received
    assert cli.json("notify", "status", dist["id"])["queued"] == 0
