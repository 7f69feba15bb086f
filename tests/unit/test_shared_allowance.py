"""A process's allowance on shared buckets (ADR 38), against a fake row store that can fail."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pledge.entrypoints.web.ratelimit import Rate, SharedRateLimiter

NOW_US = 1_700_000_000_000_000
RATE = Rate(per_second=1000.0, burst=80)  # an allowance of 10


class Clock:
    def __init__(self) -> None:
        self.instant_us = NOW_US

    def now_us(self) -> int:
        return self.instant_us


class Rows:
    """Counts what was recorded per bucket; room is the burst less that; fails when told."""

    def __init__(self) -> None:
        self.recorded: dict[str, int] = {}
        self.failing = False

    def take(self, name: str, bucket: str, per_second: float, burst: int, now_us: int) -> float:
        raise NotImplementedError

    def take_each(self, name: str, buckets: Sequence[tuple[str, float, int]], now_us: int) -> list[float]:
        raise NotImplementedError

    def settle(
        self,
        spent: Sequence[tuple[str, str, float, int, int]],
        wanted: Sequence[tuple[str, str, float, int]],
        now_us: int,
    ) -> tuple[list[int], list[tuple[float, int]]]:
        if self.failing:
            raise OSError("database unreachable")
        for _, bucket, _, _, count in spent:
            self.recorded[bucket] = self.recorded.get(bucket, 0) + count
        rooms = [80 - self.recorded[b] for _, b, _, _, _ in spent]
        taken = []
        for _, bucket, _, burst in wanted:
            ok = self.recorded.get(bucket, 0) < burst
            self.recorded[bucket] = self.recorded.get(bucket, 0) + ok
            taken.append((0.0 if ok else 1.0, burst - self.recorded[bucket]))
        return rooms, taken


def test_a_failed_recording_fails_no_request_and_is_recorded_later() -> None:
    rows, clock = Rows(), Clock()
    limiter = SharedRateLimiter(rows, clock)
    assert [limiter.take("claim", "k", RATE) for _ in range(3)] == [0.0] * 3
    rows.failing, clock.instant_us = True, NOW_US + 100_000  # time to record; the store is down
    assert limiter.take("claim", "k", RATE) == 0.0  # let through on the allowance all the same
    rows.failing, clock.instant_us = False, NOW_US + 200_000
    assert limiter.take("claim", "k", RATE) == 0.0
    assert rows.recorded == {"k": 5}


def test_a_request_that_must_ask_fails_when_the_store_does() -> None:
    rows = Rows()
    limiter = SharedRateLimiter(rows, Clock())
    assert [limiter.take("claim", "k", RATE) for _ in range(10)] == [0.0] * 10
    rows.failing = True
    with pytest.raises(OSError):
        limiter.take("claim", "k", RATE)
    rows.failing = False
    assert limiter.take("claim", "k", RATE) == 0.0
    assert rows.recorded == {"k": 11}  # the ten let through on the allowance, and this one
