"""Token buckets per API key and per customer account.

One server process keeps them in its own memory (``RateLimiter``): a bucket check is on the hot
path of claims and eligibility checks and then costs no database write. Several processes
(``pledge serve --workers N``) share them through the database (``SharedRateLimiter``, ADR 30):
one write per limited request, so that N processes allow the configured rate, not N times it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from pledge.domain.rates import Rate
from pledge.entrypoints.web.errors import ApiError
from pledge.usecases.ports import Clock

__all__ = ["Buckets", "Rate", "RateLimiter", "SharedRateLimiter"]


class Buckets(Protocol):
    """Token buckets kept where every server process sees them."""

    def take(self, name: str, bucket: str, per_second: float, burst: int, now_us: int) -> float: ...


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

    def check(self, name: str, key: str, rate: Rate) -> None:
        wait = self.take(name, key, rate)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limit_error",
                "rate_limited",
                f"too many {name} requests for {key}; retry in {math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


class SharedRateLimiter(RateLimiter):
    """The same limits, kept in ``buckets`` for every process on the database."""

    def __init__(self, buckets: Buckets, clock: Clock) -> None:
        super().__init__()
        self._shared, self._clock = buckets, clock

    def take(self, name: str, key: str, rate: Rate, now: float | None = None) -> float:
        now_us = self._clock.now_us() if now is None else round(now * 1_000_000)
        return self._shared.take(name, key, rate.per_second, rate.burst, now_us)
