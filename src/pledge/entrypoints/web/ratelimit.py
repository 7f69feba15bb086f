"""Token buckets per API key and per customer account, kept in process memory.

In-process on purpose: a bucket check is on the hot path of claims and
eligibility checks and must not cost a database write. The price is that the
limits hold per server process: N processes allow up to N times the rate (set
the rates accordingly, or put the limit in a shared gateway). ADR 0006.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from pledge.entrypoints.web.errors import ApiError


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int


class RateLimiter:
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
