"""Token buckets per API key and per customer account.

One server process keeps them in its own memory (``RateLimiter``): a bucket check is on the hot
path of claims and eligibility checks and then costs no database write. Several processes
(``pledge serve --workers N``) share them through the database (``SharedRateLimiter``, ADR 30),
so that N processes allow the configured rate, not N times it; each process lets a few requests
of a bucket through on an allowance the shared row backs, and adds them to the row in batches
(ADR 38), so most requests write nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from pledge.domain.rates import Rate
from pledge.entrypoints.web.errors import ApiError
from pledge.usecases.ports import Clock

__all__ = ["Buckets", "Rate", "RateLimiter", "SharedRateLimiter"]


class Buckets(Protocol):
    """Token buckets kept where every server process sees them."""

    def take(self, name: str, bucket: str, per_second: float, burst: int, now_us: int) -> float: ...
    def take_each(self, name: str, buckets: Sequence[tuple[str, float, int]], now_us: int) -> list[float]: ...
    def settle(
        self,
        spent: Sequence[tuple[str, str, float, int, int]],
        wanted: Sequence[tuple[str, str, float, int]],
        now_us: int,
    ) -> tuple[list[int], list[tuple[float, int]]]: ...


class RateLimiter:
    """The buckets of this process, in memory."""

    def __init__(self, *, max_buckets: int = 100_000) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max = max_buckets

    def take(self, name: str, key: str, rate: Rate, now: float | None = None) -> float:
        """Take one token; returns 0 if allowed, else the seconds until a token is available."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get((name, key), (float(rate.burst), t))
            tokens = min(float(rate.burst), tokens + (t - last) * rate.per_second)
            if tokens >= 1.0:
                if len(self._buckets) >= self._max:
                    self._buckets.clear()  # bounded memory; a reset only ever lets more through
                self._buckets[(name, key)] = (tokens - 1.0, t)
                return 0.0
            self._buckets[(name, key)] = (tokens, t)
            return (1.0 - tokens) / rate.per_second

    def take_each(self, name: str, limits: Sequence[tuple[str, Rate]]) -> list[float]:
        """``take`` for each ``(key, rate)``."""
        return [self.take(name, key, rate) for key, rate in limits]

    def check(self, name: str, key: str, rate: Rate) -> None:
        self.check_each(name, [(key, rate)])

    def check_each(self, name: str, limits: Sequence[tuple[str, Rate]]) -> None:
        """Take a token from each bucket (a request limited per key and per account); 429 naming
        the first that has none."""
        for (key, _), wait in zip(limits, self.take_each(name, limits), strict=True):
            if wait > 0:
                raise ApiError(
                    429,
                    "rate_limit_error",
                    "rate_limited",
                    f"too many {name} requests for {key}; retry in {math.ceil(wait)} s",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )


# A process lets at most ``burst // ADVANCE_SHARE`` (at most ``MAX_ADVANCE``) requests of a bucket
# through before the shared row has them: the most all P processes together can exceed a limit
# by is P times that (ADR 38). Under ``ADVANCE_SHARE`` tokens of burst, every request asks the row.
ADVANCE_SHARE: Final = 8
MAX_ADVANCE: Final = 64
RECORD_EVERY_US: Final = 100_000  # what was let through reaches the row within this, while busy


def advance_of(rate: Rate) -> int:
    return min(MAX_ADVANCE, rate.burst // ADVANCE_SHARE)


@dataclass(slots=True)
class _Share:
    """This process's view of one shared bucket."""

    rate: Rate
    allowance: int  # requests it may still let through before it next hears from the row
    unrecorded: int = 0  # let through, not yet added to the row


class SharedRateLimiter(RateLimiter):
    """The same limits, kept in ``buckets`` for every process on the database.

    A bucket this process has not seen is taken to be full (as a missing row is): it lets up to
    ``advance_of(rate)`` requests through on its own, then asks the row. Every exchange with the
    row, one transaction, adds what was let through since the last one (for every bucket) and
    takes the tokens a request could not have locally; the row's answer — how much room the bucket
    has left — sets the next allowance. A request that finds ``RECORD_EVERY_US`` passed since the
    last exchange makes one, so that the other processes see the spending soon.
    """

    def __init__(
        self,
        buckets: Buckets,
        clock: Clock,
        *,
        max_buckets: int = 100_000,
        record_every_us: int = RECORD_EVERY_US,
    ) -> None:
        super().__init__(max_buckets=max_buckets)
        self._shared, self._clock = buckets, clock
        self._shares: dict[tuple[str, str], _Share] = {}
        self._unrecorded_in: set[tuple[str, str]] = set()  # the buckets with requests to record
        self._record_every_us = record_every_us
        self._recorded_at_us = clock.now_us()
        self._exchanging = threading.Lock()

    def take(self, name: str, key: str, rate: Rate, now: float | None = None) -> float:
        return self._take_each(
            [(name, key, rate)], self._clock.now_us() if now is None else round(now * 1e6)
        )[0]

    def take_each(self, name: str, limits: Sequence[tuple[str, Rate]]) -> list[float]:
        return self._take_each([(name, key, rate) for key, rate in limits], self._clock.now_us())

    def record(self) -> None:
        """Add everything let through so far to the shared rows now (tests, shutdown)."""
        self._take_each([], self._clock.now_us(), force=True)

    def _take_each(
        self, limits: Sequence[tuple[str, str, Rate]], now_us: int, *, force: bool = False
    ) -> list[float]:
        waits: list[float | None] = [None] * len(limits)
        with self._lock:
            timed = self._spend_each(limits, waits, now_us)
        if not (timed or force or None in waits):
            return [0.0] * len(limits)
        # One exchange at a time per process: each answer then counts everything this process
        # recorded before it, and requests that queued here are often served by its allowance.
        if not self._exchanging.acquire(blocking=None in waits or force):
            return [0.0] * len(limits)  # only time to record, and another request is at it
        try:
            with self._lock:
                timed = self._spend_each(limits, waits, now_us)
                wanted = [limit for limit, wait in zip(limits, waits, strict=True) if wait is None]
                if not (timed or force or wanted):
                    return [0.0] * len(limits)
                spent, self._recorded_at_us = self._unrecorded(), now_us
            try:
                taken = self._exchange(spent, wanted, now_us)
            except Exception:
                if wanted or force:
                    raise
                taken = []  # only recording, for the others: the next exchange adds them again
        finally:
            self._exchanging.release()
        answers = iter(taken)
        return [wait if wait is not None else next(answers) for wait in waits]

    def _spend_each(
        self, limits: Sequence[tuple[str, str, Rate]], waits: list[float | None], now_us: int
    ) -> bool:
        """Let each request without an answer through on its allowance if it can; whether it is
        time to record what was let through."""
        for i, limit in enumerate(limits):
            if waits[i] is None and self._spend(*limit):
                waits[i] = 0.0
        return bool(self._unrecorded_in) and now_us - self._recorded_at_us >= self._record_every_us

    def _exchange(
        self, spent: list[tuple[str, str, Rate, int]], wanted: list[tuple[str, str, Rate]], now_us: int
    ) -> list[float]:
        try:
            rooms, taken = self._shared.settle(
                [(n, k, r.per_second, r.burst, count) for n, k, r, count in spent],
                [(n, k, r.per_second, r.burst) for n, k, r in wanted],
                now_us,
            )
        except BaseException:
            with self._lock:  # not recorded: the next exchange adds them
                for n, k, r, count in spent:
                    self._share(n, k, r).unrecorded += count
                    self._unrecorded_in.add((n, k))
            raise
        with self._lock:
            for (n, k, r, _), left in zip(spent, rooms, strict=True):
                self._refill(n, k, r, left)
            for (n, k, r), (_, left) in zip(wanted, taken, strict=True):
                self._refill(n, k, r, left)
        return [wait for wait, _ in taken]

    def _share(self, name: str, key: str, rate: Rate) -> _Share:
        share = self._shares.get((name, key))
        if share is None:
            if len(self._shares) >= self._max:  # bounded memory: forget what is recorded
                self._shares = {k: s for k, s in self._shares.items() if s.unrecorded}
            share = self._shares[(name, key)] = _Share(rate, advance_of(rate))
        share.rate = rate
        return share

    def _spend(self, name: str, key: str, rate: Rate) -> bool:
        share = self._share(name, key, rate)
        if share.allowance < 1:
            return False
        share.allowance -= 1
        share.unrecorded += 1
        self._unrecorded_in.add((name, key))
        return True

    def _unrecorded(self) -> list[tuple[str, str, Rate, int]]:
        spent = []
        for n, k in self._unrecorded_in:
            share = self._shares[(n, k)]
            spent.append((n, k, share.rate, share.unrecorded))
            share.unrecorded = 0
        self._unrecorded_in.clear()
        return spent

    def _refill(self, name: str, key: str, rate: Rate, room: int) -> None:
        """The row had ``room`` tokens left; what this process let through meanwhile counts against it."""
        share = self._share(name, key, rate)
        share.allowance = max(0, min(advance_of(rate), room) - share.unrecorded)
