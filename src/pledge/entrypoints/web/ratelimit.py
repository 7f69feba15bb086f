"""Token buckets per API key and per customer account.

One server process keeps them in its own memory (``RateLimiter``): a bucket check is on the hot
path of claims and eligibility checks and then costs no database write. Several processes
(``pledge serve --workers N``) share them through the database (``SharedRateLimiter``, ADR 30):
one write per limited request, so that N processes allow the configured rate, not N times it.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from pledge.domain.errors import InputError, quoted
from pledge.entrypoints.web.errors import ApiError
from pledge.usecases.ports import Clock

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @classmethod
    def parse(cls, text: str, param: str) -> Rate:
        """``20/s``, ``120/min``, ``1000/h``; the burst is two seconds' worth (at least one request)."""
        match = _RATE.match(text)
        count = float(match.group(1)) if match else 0.0
        if match is None or not 0 < count <= 1_000_000:
            raise InputError(
                f"{param}: write a rate like 20/s, 120/min or 1000/h (at most 1000000 per unit), "
                f"not {quoted(text)}",
                code="invalid_rate",
                param=param,
            )
        per_second = count / _PER[match.group(2)]
        return cls(per_second=per_second, burst=max(1, math.ceil(2 * per_second)))


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
