"""`pledge serve --workers 2` delivers notifications by itself, on SQLite and PostgreSQL (ADR 26): a
distribution held at NOW is due on the server's clock, and both processes' workers pass over it every
second, yet each email reaches the loopback SMTP server once — nobody ran `notify deliver`."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.test_cli import Pledge
from tests.e2e.test_cli_notify import CID, LATER, NOW, world  # noqa: F401 - fixture
from tests.support.notify import Servers
from tests.support.serve import pledge_serve

Cli = tuple[Pledge, Servers]


def test_two_processes_send_each_email_once(world: Cli, db_url: str, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    cli, s = world
    held = cli.json("notify", "send", CID, "--template", "grant_issued", "--channel", "email", "--now", NOW)
    assert held["state"] == "held" and held["by_channel"]["email"] == 2
    args = ("--now", LATER, "--workers", "2", "--notify-interval", "1s")
    with pledge_serve(db_url, tmp_path, *args, env=s.env, notify_worker=True):
        deadline = time.monotonic() + 60
        while len(s.mailbox.received) < 2:
            assert time.monotonic() < deadline, "the server's workers did not deliver"
            time.sleep(0.1)
        time.sleep(3)  # several more passes of both processes
    assert len(s.mailbox.received) == 2
    assert len({m["Message-ID"] for m in s.mailbox.received}) == 2
    status = cli.json("notify", "status", held["id"])
    assert status["sent"] == 2 and status["queued"] == 0
