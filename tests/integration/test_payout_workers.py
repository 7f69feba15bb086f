"""Many payout dispatchers on one database (ADR 32), on SQLite and PostgreSQL, against the fake wallet
on loopback.

* Two dispatchers paying one account: the second waits while the first holds the account's day,
  then reads what the first sent, so together they never exceed the account's daily count or amount.
* Four `payouts run` processes at one shared `--rate`, one of them SIGKILLed mid-run, then one run
  and one sync: every envelope credited exactly once, nothing left in flight, the ledger intact, and
  the wallet never saw more requests than the shared rate (and its burst) allows.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pledge.adapters.payouts.config import wallet_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.bootstrap import App, FixedClock
from pledge.domain.money import parse_minor
from pledge.usecases.grants import claim_grant
from pledge.usecases.payout_plan import plan_payouts
from pledge.usecases.payout_ports import PayoutRail
from pledge.usecases.payouts import run_payouts
from pledge.usecases.ports import UnitOfWork
from tests.drills.conftest import db_name, launch
from tests.drills.test_payouts_crash import QuietServer, claimed, transfers
from tests.e2e.test_cli import NOW, Pledge
from tests.fakes.driving import CLIENT_TIMEOUT_S
from tests.fakes.loopback import serving
from tests.fakes.wallet_server import WalletHandler, WalletProvider
from tests.support import cli_forkserver
from tests.support.billing import us
from tests.support.data import write_files

SECRET = "workers-wallet-secret"
CID = "founders-refund"
CLOCK = FixedClock(us(NOW))


def wallet_env(url: str) -> dict[str, str]:
    return {"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": SECRET}


# ------------------------------------------------------------------ an account's day, two dispatchers
def one_account(db_url: str, folder: Path, grants: int, split: dict[str, Any]) -> App:
    """One account with ``grants`` opened envelopes of 1999.00 each, planned: one wallet transfer
    each, all due today."""
    purchases = [
        (f"P{i:02d}", "A-cn-1", "mi-1", f"S{i}", "2011-10-01T10:00:00+08:00", "1999.00", "completed")
        for i in range(1, grants + 1)
    ]
    cli = Pledge(db_url, folder)
    cli.run("init")
    accounts_path, purchases_path = write_files(folder, purchases)
    cli.json("import", "accounts", str(accounts_path))
    cli.json("import", "purchases", str(purchases_path))
    payout = {"channel": "red_envelope", "claim_within": "30d", "rail": "wallet", "split": split}
    launch(cli, folder, limits={"per_serial": 1}, payout=payout)
    cli.json("campaign", "run", CID, "--now", NOW)
    app = App(db_url)
    for grant in cli.json("grants", "list", "--campaign", CID, "--limit", "1000")["data"]:
        claim_grant(app.uow, CLOCK, grant["id"])
    assert plan_payouts(app.uow, CLOCK) == grants
    return app


class HeldCommit:
    """Units of work whose first commit waits until the test lets it go: a dispatcher caught holding
    the transaction in which it has marked today's transfers sent."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.holding, self.release = threading.Event(), threading.Event()

    def __call__(self) -> UnitOfWork:
        uow = self.app.uow()
        commit = uow.commit

        def held() -> None:
            if not self.holding.is_set():
                self.holding.set()
                assert self.release.wait(30)
            commit()

        uow.commit = held  # type: ignore[method-assign]
        return uow


@pytest.mark.parametrize(
    ("split", "most"),
    [
        ({"max_per_account_day": "7000.00", "max_count_per_account_day": 3}, 3),  # the count binds
        ({"max_per_account_day": "5000.00", "max_count_per_account_day": 10}, 2),  # the amount binds
    ],
    ids=["count", "amount"],
)
def test_two_dispatchers_never_exceed_an_accounts_day(
    db_url: str, tmp_path: Path, split: dict[str, Any], most: int
) -> None:
    app = one_account(db_url, tmp_path, 10, split)
    provider = WalletProvider(secret=SECRET.encode(), hang_s=CLIENT_TIMEOUT_S * 3)
    try:
        with serving(WalletHandler, provider) as url:
            config = wallet_config(wallet_env(url))

            def rails(name: str) -> PayoutRail:
                return WalletRail(config, timeout_s=CLIENT_TIMEOUT_S)

            first = HeldCommit(app)
            counts: dict[str, dict[str, int]] = {}

            def dispatch(name: str, factory: Any) -> None:
                counts[name] = run_payouts(factory, CLOCK, rails, max_transfers=most)

            one = threading.Thread(target=dispatch, args=("one", first))
            one.start()
            assert first.holding.wait(30), "the first dispatcher never reached its commit"
            two = threading.Thread(target=dispatch, args=("two", app.uow))
            two.start()
            two.join(1.0)
            waited = two.is_alive()  # it must wait for the account's day the first one holds
            first.release.set()
            one.join(60)
            two.join(60)
        amounts = [parse_minor(c["amount"], c["currency"]) for c in provider.credits.values()]
        assert waited, "the second dispatcher did not wait for the account's day"
        assert len(amounts) == most, (counts, amounts)
        assert len(amounts) <= split["max_count_per_account_day"]
        assert sum(amounts) <= parse_minor(split["max_per_account_day"], "CNY")
        assert counts["one"]["succeeded"] == most and counts["two"]["succeeded"] == 0
        assert counts["two"]["deferred"] >= 1
    finally:
        app.close()


# ------------------------------------------------------------------ four processes, one killed
WORKERS = 4
RATE_PER_S = 20  # --rate 20/s: well below what four unpaced workers reach here (70/s and more)
BURST = 2 * RATE_PER_S  # two seconds' worth
LAG_S = 0.25  # how much later than its token a request may reach the wallet (loopback, a loaded machine)
KILL_AFTER = BURST + 40  # requests the wallet has seen when one worker is killed: past the burst


def most_in_any_window(arrivals: list[float]) -> tuple[int, int, float]:
    """The largest excess of requests over what the rate and burst allow in any stretch of time:
    ``(excess, count, seconds)`` of the worst stretch. A request reaches the wallet a little after
    it took its token (loopback, scheduling): a stretch may hold what ``LAG_S`` more allows."""
    times = sorted(arrivals)
    worst = (-(10**9), 0, 0.0)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            seconds = times[j] - start
            allowed = BURST + int(RATE_PER_S * (seconds + LAG_S))
            count = j - i + 1
            if count - allowed > worst[0]:
                worst = (count - allowed, count, seconds)
    return worst


def test_four_workers_one_killed_pay_each_envelope_once_within_one_rate(db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    cli = Pledge(db_url, tmp_path)
    expected = claimed(cli, tmp_path, 800, share=2)
    provider = WalletProvider(secret=SECRET.encode(), hang_s=CLIENT_TIMEOUT_S * 3)
    with serving(WalletHandler, provider, QuietServer) as url:  # quiet about killed clients
        env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
        env.update(wallet_env(url), PLEDGE_DATABASE_URL=db_url)
        rate = ("--rate", f"{RATE_PER_S}/s")
        run = ["payouts", "run", "--campaign", CID, "--now", NOW, *rate, "--json"]
        workers = [cli_forkserver.start(run, cwd=tmp_path, env=env) for _ in range(WORKERS)]
        deadline = time.monotonic() + 40
        while len(provider.arrivals) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        running = [w for w in workers if w.poll() is None]
        assert running, "every worker ended before one could be killed"
        victim = running[0]
        victim.kill()  # SIGKILL, mid-run: what it marked sent stays submitted, in transit
        victim.communicate()
        killed_at = len(provider.arrivals)
        for worker in (w for w in workers if w is not victim):
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, f"exit {worker.returncode}: {err}{out}"
        left_in_flight = Counter(t["state"] for t in transfers(cli))
        cli.run(*run, env=env)  # picks up whatever the killed worker left pending
        cli.run("payouts", "sync", "--now", NOW, *rate, "--json", env=env)  # settles its submitted ones
        arrivals = list(provider.arrivals)
    states = Counter(t["state"] for t in transfers(cli))
    credited: Counter[str] = Counter()
    for credit in provider.credits.values():
        credited[credit["account_id"]] += parse_minor(credit["amount"], credit["currency"])
    twice = sum(1 for n in provider.applied.values() if n > 1)
    excess, count, seconds = most_in_any_window(arrivals)
    elapsed = time.monotonic() - started
    print(
        f"{WORKERS} workers [{db_name(db_url)}]: {sum(states.values())} transfers, one worker killed "
        f"after {killed_at} requests, states then {dict(left_in_flight)}, now {dict(states)}; "
        f"{len(arrivals)} requests, worst stretch {count} in {seconds:.2f}s (excess {excess}); "
        f"{elapsed:.0f}s in all"
    )
    assert dict(states) == {"succeeded": len(provider.credits)}
    assert credited == expected
    assert twice == 0 and provider.bad_signatures == 0
    assert excess <= 0, f"{count} requests in {seconds:.2f}s at {RATE_PER_S}/s, burst {BURST}"
    assert cli.json("ledger", "verify")["ok"]
    assert cli.json("audit", "verify")["ok"]
