"""Rate limits shared by every server process, kept in the database (ADR 30).

``pledge serve --workers N`` runs N processes; a limit kept in each process's memory would let a
client through N times as often. Here each bucket is one row holding the generic cell rate
algorithm's "theoretical arrival time" (``tat_us``): a request is let through when the bucket is
not more than ``burst - 1`` intervals ahead of now, and then moves it one interval on. One
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per request decides and records it atomically, on
SQLite and PostgreSQL alike; ``nonce`` tells the request whether its own update took the token
(a refused update leaves the row as it was). A row whose time has passed is a full bucket, so such
rows are deleted now and then: the table holds only the buckets in use.

``settle`` also adds tokens a server process already let through on its own allowance (ADR 38),
many buckets in one statement, and says how much room each bucket has left.

``SharedPace`` uses the same buckets for the payout rails: every ``payouts run`` and ``payouts
sync`` on the database sends to a rail at one shared rate (ADR 32).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from sqlalchemy import Connection, Engine, text

PURGE_EVERY_S: Final = 60.0

# ``ahead`` is how far the bucket's time is past now (never below zero).
_AHEAD = "(CASE WHEN rate_limits.tat_us > :now THEN rate_limits.tat_us - :now ELSE 0 END)"
_TAKE = text(
    "INSERT INTO rate_limits (name, bucket, tat_us, nonce) VALUES (:name, :bucket, :now + :interval, :nonce) "
    "ON CONFLICT (name, bucket) DO UPDATE SET "
    f"tat_us = CASE WHEN {_AHEAD} <= :tolerance THEN :now + {_AHEAD} + :interval "
    "ELSE rate_limits.tat_us END, "
    f"nonce = CASE WHEN {_AHEAD} <= :tolerance THEN :nonce ELSE rate_limits.nonce END "
    "RETURNING tat_us, nonce"
)
_PURGE = text("DELETE FROM rate_limits WHERE tat_us < :now")
# Tokens already let through, added whatever the bucket holds (it may go past its tolerance: then
# it refuses until it has paid them back). The inserted ``tat_us`` is ``now`` plus the debt.
_RECORD = (
    "INSERT INTO rate_limits (name, bucket, tat_us, nonce) VALUES %s "
    "ON CONFLICT (name, bucket) DO UPDATE SET "
    "tat_us = CASE WHEN rate_limits.tat_us > :now THEN rate_limits.tat_us ELSE :now END "
    "+ excluded.tat_us - :now "
    "RETURNING name, bucket, tat_us"
)
RECORD_ROWS: Final = 200  # buckets per statement (4 parameters each)

Bucket = tuple[str, str, float, int]  # name, bucket, per second, burst
Spent = tuple[str, str, float, int, int]  # … and how many tokens were let through


class SharedBuckets:
    """Token buckets in the ``rate_limits`` table: the same limit for every process on the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._purged_at = time.monotonic()
        self._lock = threading.Lock()

    def take(self, name: str, bucket: str, per_second: float, burst: int, now_us: int) -> float:
        """Take one token: 0 if allowed, else the seconds until one is available."""
        return self.take_each(name, [(bucket, per_second, burst)], now_us)[0]

    def take_each(self, name: str, buckets: Sequence[tuple[str, float, int]], now_us: int) -> list[float]:
        """One token from each ``(bucket, per_second, burst)``, in one transaction (a request limited
        per key and per account writes once, not twice: on SQLite each write transaction queues for
        the one write lock). Each answer as ``take``'s; a bucket that refuses leaves the others
        taken, as separate calls would."""
        wanted = [(name, bucket, per_second, burst) for bucket, per_second, burst in buckets]
        return [wait for wait, _ in self.settle([], wanted, now_us)[1]]

    def settle(
        self, spent: Sequence[Spent], wanted: Sequence[Bucket], now_us: int
    ) -> tuple[list[int], list[tuple[float, int]]]:
        """Add what a process already let through to its buckets (``spent``: ``(name, bucket,
        per_second, burst, count)``, recorded whatever the bucket holds), then take one token from
        each of ``wanted`` (``(name, bucket, per_second, burst)``). Returns each spent bucket's
        room afterwards (tokens a request could take now), and for each wanted one ``take``'s
        answer and its room afterwards.

        The recording and the takes are a transaction each, and each touches its rows in one order
        (name, then bucket): two processes then never wait for each other's row locks in a cycle
        (PostgreSQL), whichever buckets they record and take."""
        for _, _, per_second, burst in [*(s[:4] for s in spent), *wanted]:
            assert per_second > 0, per_second
            assert burst >= 1, burst
        recorded: list[int] = []
        if spent:
            with self._engine.begin() as conn:
                recorded = _record(conn, spent, now_us)
        order = sorted(range(len(wanted)), key=lambda i: (wanted[i][0], wanted[i][1][:200]))
        answers: dict[int, tuple[float, int]] = {}
        if wanted:
            with self._engine.begin() as conn:
                answers = {i: _take(conn, *wanted[i], now_us) for i in order}
        taken = [answers[i] for i in range(len(wanted))]
        self._purge_now_and_then(now_us)
        return recorded, taken

    def _purge_now_and_then(self, now_us: int) -> None:
        with self._lock:
            if time.monotonic() - self._purged_at < PURGE_EVERY_S:
                return
            self._purged_at = time.monotonic()
        with self._engine.begin() as conn:
            conn.execute(_PURGE, {"now": now_us})


def interval_us(per_second: float) -> int:
    return max(1, round(1_000_000 / per_second))


def room(tat_us: int, now_us: int, per_second: float, burst: int) -> int:
    """Tokens a bucket whose theoretical arrival time is ``tat_us`` holds at ``now_us``."""
    interval = interval_us(per_second)
    tolerance, ahead = (burst - 1) * interval, max(tat_us - now_us, 0)
    return 0 if ahead > tolerance else (tolerance - ahead) // interval + 1


def _take(
    conn: Connection, name: str, bucket: str, per_second: float, burst: int, now_us: int
) -> tuple[float, int]:
    interval = interval_us(per_second)
    tolerance_us = (burst - 1) * interval
    nonce = secrets.randbits(62)
    params = {
        "name": name,
        "bucket": bucket[:200],
        "now": now_us,
        "interval": interval,
        "tolerance": tolerance_us,
        "nonce": nonce,
    }
    tat_us, stored = conn.execute(_TAKE, params).one()
    wait = 0.0 if int(stored) == nonce else max(int(tat_us) - now_us - tolerance_us, 1) / 1_000_000
    return wait, room(int(tat_us), now_us, per_second, burst)


def _record(conn: Connection, spent: Sequence[Spent], now_us: int) -> list[int]:
    """Add each ``count`` to its bucket, many buckets per statement (a row must appear once in an
    ``ON CONFLICT DO UPDATE``: counts of one bucket are summed first)."""
    counts: dict[tuple[str, str], int] = {}
    for name, bucket, per_second, _, count in spent:
        key = (name, bucket[:200])
        counts[key] = counts.get(key, 0) + count * interval_us(per_second)
    tats: dict[tuple[str, str], int] = {}
    items = sorted(counts.items())  # one order of row locks in every process
    for start in range(0, len(items), RECORD_ROWS):
        chunk = items[start : start + RECORD_ROWS]
        params: dict[str, object] = {"now": now_us}
        for i, ((name, bucket), debt_us) in enumerate(chunk):
            params |= {f"n{i}": name, f"b{i}": bucket, f"t{i}": now_us + debt_us}
        rows = ", ".join(f"(:n{i}, :b{i}, :t{i}, 0)" for i in range(len(chunk)))
        for name, bucket, tat in conn.execute(text(_RECORD % rows), params):
            tats[(name, bucket)] = int(tat)
    return [
        room(tats[(name, bucket[:200])], now_us, per_second, burst)
        for name, bucket, per_second, burst, _ in spent
    ]


class SharedPace:
    """Requests to each payout rail paced by one bucket per rail, whoever sends them (ADR 32).

    ``rates`` maps a rail to ``(per_second, burst)``; a rail not named is not paced. The bucket is
    read on the wall clock, never the command's ``--now``: a rate is about real seconds.
    """

    NAME: Final = "payouts.rail"

    def __init__(
        self,
        buckets: SharedBuckets,
        rates: Mapping[str, tuple[float, int]],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._buckets, self._rates, self._sleep = buckets, dict(rates), sleep

    def wait_turn(self, rail: str) -> None:
        rate = self._rates.get(rail)
        if rate is None:
            return
        per_second, burst = rate
        while (wait_s := self._buckets.take(self.NAME, rail, per_second, burst, time.time_ns() // 1000)) > 0:
            self._sleep(wait_s)
