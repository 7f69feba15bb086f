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
from collections.abc import Sequence
from typing import Protocol

from pledge.domain.rates import Rate
from pledge.entrypoints.web.errors import ApiError
from pledge.usecases.ports import Clock

__all__ = ["Buckets", "Rate", "RateLimiter", "SharedRateLimiter"]


class Buckets(Protocol):
    """Token buckets kept where every server process sees them."""

    def take(self, name: str, bucket: str, per_second: float, burst: int, now_us: int) -> float: ...
    def take_each(self, name: str, buckets: Sequence[tuple[str, float, int]], now_us: int) -> list[float]: ...


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


class SharedRateLimiter(RateLimiter):
    """The same limits, kept in ``buckets`` for every process on the database."""

    def __init__(self, buckets: Buckets, clock: Clock) -> None:
        super().__init__()
        self._shared, self._clock = buckets, clock

    def take(self, name: str, key: str, rate: Rate, now: float | None = None) -> float:
        now_us = self._clock.now_us() if now is None else round(now * 1_000_000)
        return self._shared.take(name, key, rate.per_second, rate.burst, now_us)

    def take_each(self, name: str, limits: Sequence[tuple[str, Rate]]) -> list[float]:
        buckets = [(key, rate.per_second, rate.burst) for key, rate in limits]
        return self._shared.take_each(name, buckets, self._clock.now_us())
