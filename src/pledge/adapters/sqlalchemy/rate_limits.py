"""Rate limits shared by every server process, kept in the database (ADR 30).

``pledge serve --workers N`` runs N processes; a limit kept in each process's memory would let a
client through N times as often. Here each bucket is one row holding the generic cell rate
algorithm's "theoretical arrival time" (``tat_us``): a request is let through when the bucket is
not more than ``burst - 1`` intervals ahead of now, and then moves it one interval on. One
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per request decides and records it atomically, on
SQLite and PostgreSQL alike; ``nonce`` tells the request whether its own update took the token
(a refused update leaves the row as it was). A row whose time has passed is a full bucket, so such
rows are deleted now and then: the table holds only the buckets in use.

``SharedPace`` uses the same buckets for the payout rails: every ``payouts run`` and ``payouts
sync`` on the database sends to a rail at one shared rate (ADR 32).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from sqlalchemy import Engine, text

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
        waits = []
        with self._engine.begin() as conn:
            for bucket, per_second, burst in buckets:
                assert per_second > 0, per_second
                assert burst >= 1, burst
                interval_us = max(1, round(1_000_000 / per_second))
                tolerance_us = (burst - 1) * interval_us
                nonce = secrets.randbits(62)
                params = {
                    "name": name,
                    "bucket": bucket[:200],
                    "now": now_us,
                    "interval": interval_us,
                    "tolerance": tolerance_us,
                    "nonce": nonce,
                }
                tat_us, stored = conn.execute(_TAKE, params).one()
                took = int(stored) == nonce
                waits.append(0.0 if took else max(int(tat_us) - now_us - tolerance_us, 1) / 1_000_000)
        self._purge_now_and_then(now_us)
        return waits

    def _purge_now_and_then(self, now_us: int) -> None:
        with self._lock:
            if time.monotonic() - self._purged_at < PURGE_EVERY_S:
                return
            self._purged_at = time.monotonic()
        with self._engine.begin() as conn:
            conn.execute(_PURGE, {"now": now_us})


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
