"""Crash drill for payouts: `kill -9` of `payouts run` and `payouts sync` at random points against a
wallet provider on loopback that loses answers, then sync → every opened envelope credited exactly
its amount, no credit applied twice, the ledger's and the audit log's chains intact.

The provider (tests/fakes/wallet_server.py) lives in the test process, so it outlives every killed
command: what it applied is the truth the drill checks Pledge's books against. A seeded share of
its answers is faulty: 503 without applying, applied then 503, applied then a dropped connection,
applied then a slow silence. The seed is printed; ``PLEDGE_DRILL_SEED`` replays the kill delays and
the faults (the instant each kill lands depends on the machine's speed).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pledge.bootstrap import App, FixedClock
from pledge.domain.money import parse_minor
from pledge.usecases.grants import claim_grant
from tests.drills.conftest import NOW, db_name, figure, launch, scaled
from tests.e2e.test_cli import Pledge
from tests.fakes.loopback import Server
from tests.fakes.wallet_server import WalletHandler, WalletProvider
from tests.support import cli_forkserver
from tests.support.billing import us
from tests.support.pages import every_page

KILLS = scaled(6, 24)  # per command: the bounded subset kills a few times; `make drills` at least 20
SECRET = "drill-wallet-secret"
CID = "founders-refund"
# Time-based kill delays (the commands start forked from a warm process, ADR 31): from the first
# database work to well past planning, which takes about a second here.
LOW_S = 0.02
RUN_HIGH_S = 1.5
SYNC_HIGH_S = 1.0
FAULTS = ("503", "apply_then_503", "apply_then_drop", "apply_then_hang")
SEED = int(os.environ.get("PLEDGE_DRILL_SEED", str(random.SystemRandom().randrange(1 << 32))))


@dataclass
class DrillWallet(WalletProvider):
    truncated: int = 0  # requests cut short by a kill


class QuietServer(Server):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client killed mid-request resets its connection: expected here, not news


class DrillWalletHandler(WalletHandler):
    """The fake wallet, telling a request cut short by a kill (a body shorter than its declared
    length) from a badly signed one: the first is dropped and counted apart, never applied."""

    def body(self) -> bytes:
        declared = int(self.headers.get("Content-Length") or 0)
        data = super().body()
        self.cut_short = len(data) < declared
        return data

    def _signed(self, body: bytes) -> bool:
        if getattr(self, "cut_short", False):
            provider = self.provider
            assert isinstance(provider, DrillWallet)
            provider.truncated += 1
            self.close_connection = True
            return False
        return super()._signed(body)


@pytest.fixture
def wallet() -> Iterator[tuple[DrillWallet, dict[str, str]]]:
    provider = DrillWallet(secret=SECRET.encode(), hang_s=0.3)  # a slow silence, then a drop
    server = QuietServer(("127.0.0.1", 0), DrillWalletHandler)
    server.provider = provider
    thread = threading.Thread(target=server.serve_forever, name="drill-wallet", daemon=True)
    thread.start()
    try:
        yield provider, {"PLEDGE_WALLET_URL": f"http://127.0.0.1:{server.server_address[1]}",
                         "PLEDGE_WALLET_SECRET": SECRET}  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def claimed(cli: Pledge, folder: Path, purchases: int, share: int) -> dict[str, int]:
    """Generated data imported, the campaign launched and run, and every ``share``-th envelope opened.

    Returns each opening account's expected total, in minor units.
    """
    data = cli.json("generate", str(folder / "data"), "--purchases", str(purchases), "--seed", "11")
    cli.run("init")
    cli.json("import", "accounts", data["accounts_file"])
    cli.json("import", "purchases", data["purchases_file"])
    launch(cli, folder)
    cli.json("campaign", "run", CID, "--now", NOW)
    grants = every_page(
        lambda after: cli.json("grants", "list", "--campaign", CID, "--limit", "1000", *after)
    )
    app = App(cli.db_url)  # set-up only: hundreds of claims, faster than one process each
    expected: Counter[str] = Counter()
    try:
        for grant in grants[::share]:
            claim_grant(app.uow, FixedClock(us(NOW)), grant["id"])
            expected[grant["account_id"]] += parse_minor(grant["amount"], grant["currency"])
    finally:
        app.close()
    return dict(expected)


def crash_until_done(
    cli: Pledge,
    args: tuple[str, ...],
    env: dict[str, str],
    rng: random.Random,
    high_s: float,
    requests: Callable[[], int],
    left: Callable[[], int],
) -> tuple[int, int]:
    """Start, SIGKILL at a random point, restart: ``KILLS`` times (or until an attempt finds nothing
    left to send); then let it finish.

    A third of the kill points are a random delay (start-up, planning, the database work before the
    first request), or the work left's share of requests if that comes first; the rest are "after
    the wallet has received k more requests" plus up to 2 ms, so that kills land mid-conversation
    whatever the machine's speed. Returns the kills, and how many of
    them landed after the command had begun talking to the wallet.
    """
    full_env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    full_env.update(env, PLEDGE_DATABASE_URL=cli.db_url)
    kills, mid_work = 0, 0
    while True:
        seen = requests()
        # k spreads the remaining kills over the work left (``left()`` requests at least)
        most = max(1, min(12, left() // max(1, KILLS - kills)))
        by_delay = rng.random() < 1 / 3
        after_requests = most if by_delay else rng.randint(1, most)  # a delay's attempt is capped too
        deadline = time.monotonic() + (rng.uniform(LOW_S, high_s) if by_delay else 600)
        # `payouts run` marks up to 100 transfers submitted before it sends them, so a kill can leave
        # a whole batch for `payouts sync`; most attempts are bounded with `--max`, as an operator
        # trickling payouts would, so that the drill has work left for all its kills.
        bounded = args[1] == "run" and rng.random() < 0.8
        extra = ["--max", str(rng.randint(5, 40))] if bounded else []
        proc = cli_forkserver.start([*args, *extra, "--json"], cwd=cli.cwd, env=full_env)
        while kills < KILLS and proc.poll() is None and time.monotonic() < deadline:
            if requests() - seen >= after_requests:
                time.sleep(rng.uniform(0, 0.002))
                break
            time.sleep(0.001)
        if proc.poll() is None and kills < KILLS:
            proc.kill()  # SIGKILL: no handler, no clean-up
            proc.communicate()
            kills += 1
            mid_work += requests() != seen
            continue
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"exit {proc.returncode} after {kills} kills: {err}{out}"
        if kills >= KILLS or requests() == seen:
            return kills, mid_work


def test_payouts_crash_drill_credits_each_envelope_exactly_once(
    db_url: str, tmp_path: Path, wallet: tuple[DrillWallet, dict[str, str]]
) -> None:
    provider, env = wallet
    rng = random.Random(SEED)
    started = time.monotonic()
    cli = Pledge(db_url, tmp_path)
    expected = claimed(cli, tmp_path, scaled(400, 6_000), share=2)
    opened = sum(1 for _ in expected)  # accounts; grants are counted from the books below
    # Every fourth answer, on average, is a fault, as long as the drill lasts.
    provider.post_faults[:] = [rng.choice(FAULTS) if rng.random() < 0.25 else "" for _ in range(100_000)]
    provider.query_faults[:] = ["503" if rng.random() < 0.1 else "" for _ in range(100_000)]

    setup_s = time.monotonic() - started
    start = time.monotonic()
    run_args = ("payouts", "run", "--campaign", CID, "--now", NOW)

    # Each request to the wallet consumes one entry of its fault lists.
    def requests() -> int:
        return -len(provider.post_faults) - len(provider.query_faults)

    def unpaid() -> int:
        return len(expected) - len(provider.credits)  # one opened envelope per account here

    kills_run, mid_run = crash_until_done(cli, run_args, env, rng, RUN_HIGH_S, requests, unpaid)
    run_s = time.monotonic() - start
    sync_args = ("payouts", "sync", "--now", NOW)
    in_flight = lambda: 12 * KILLS  # noqa: E731 - unknown in advance; at most 12 requests a kill
    kills_sync, mid_sync = crash_until_done(cli, sync_args, env, rng, SYNC_HIGH_S, requests, in_flight)
    # No more faults: one run picks up whatever a kill left pending, one sync settles what is in flight.
    provider.post_faults.clear()
    provider.query_faults.clear()
    for args in (run_args, ("payouts", "sync", "--now", NOW)):
        cli.run(*args, "--json", env=env)
    states = Counter(t["state"] for t in transfers(cli))
    credited: Counter[str] = Counter()
    for credit in provider.credits.values():
        credited[credit["account_id"]] += parse_minor(credit["amount"], credit["currency"])
    twice = sum(1 for n in provider.applied.values() if n > 1)
    ledger_ok = cli.json("ledger", "verify")["ok"]
    audit_ok = cli.json("audit", "verify")["ok"]
    total = sum(expected.values())
    figure(
        f"payouts crash drill [{db_name(db_url)}]: seed {SEED}, {kills_run} kill -9 of payouts run and "
        f"{kills_sync} of payouts sync ({mid_run} and {mid_sync} of them after talking to the wallet), "
        f"{sum(states.values())} transfers to {opened} accounts ({total / 100:.2f} in all), "
        f"states {dict(states)}, {provider.bad_signatures} bad signatures "
        f"({provider.truncated} requests cut short by a kill, refused unread), "
        f"{'every account credited exactly its amount' if credited == expected else 'CREDITS DIFFER'}, "
        f"{twice} credits applied twice, ledger {'ok' if ledger_ok else 'BROKEN'}, "
        f"audit {'ok' if audit_ok else 'BROKEN'} (set-up {setup_s:.0f}s, crashed runs {run_s:.0f}s)"
    )
    assert dict(states) == {"succeeded": sum(states.values())}
    assert credited == expected
    assert twice == 0 and provider.bad_signatures == 0
    assert ledger_ok and audit_ok


def transfers(cli: Pledge) -> list[dict[str, Any]]:
    return every_page(lambda after: cli.json("payouts", "list", "--campaign", CID, "--limit", "1000", *after))
