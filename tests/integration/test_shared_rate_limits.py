"""Rate limits shared through the database (ADR 30), on SQLite and PostgreSQL: the same bucket seen
from two engines (two server processes) lets through exactly its burst, then one request per
interval, and concurrent requests never take more than the bucket holds. With each process's
allowance (ADR 38), most requests write nothing, and two processes together never exceed the
limit by more than their two allowances."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, event, func, select

from pledge.adapters.sqlalchemy.api_tables import rate_limits
from pledge.adapters.sqlalchemy.database import make_engine
from pledge.adapters.sqlalchemy.rate_limits import SharedBuckets
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.domain.errors import InputError
from pledge.entrypoints.web.ratelimit import Rate, SharedRateLimiter, advance_of

SECOND_US = 1_000_000
NOW_US = 1_700_000_000 * SECOND_US


@pytest.fixture
def engines(db_url: str) -> Iterator[list[Engine]]:
    pair = [make_engine(db_url), make_engine(db_url)]
    upgrade(pair[0])
    yield pair
    for engine in pair:
        engine.dispose()


def test_two_processes_share_one_bucket(engines: list[Engine]) -> None:
    one, two = (SharedBuckets(e) for e in engines)
    # 2 per second, burst 3: three at once from either process, then one every 0.5 s.
    takes = [b.take("claim", "account A", 2.0, 3, NOW_US) for b in (one, two, one, two)]
    assert takes[:3] == [0.0, 0.0, 0.0]
    assert takes[3] == pytest.approx(0.5)
    assert two.take("claim", "account B", 2.0, 3, NOW_US) == 0.0  # another bucket is full
    assert one.take("claim", "account A", 2.0, 3, NOW_US + SECOND_US // 2) == 0.0
    assert two.take("claim", "account A", 2.0, 3, NOW_US + SECOND_US // 2) == pytest.approx(0.5)
    assert one.take("eligibility", "account A", 2.0, 3, NOW_US) == 0.0  # another name, another bucket


def test_concurrent_requests_never_take_more_than_the_burst(engines: list[Engine]) -> None:
    buckets = [SharedBuckets(e) for e in engines]

    def take(i: int) -> float:
        return buckets[i % 2].take("claim", "account C", 0.001, 5, NOW_US)

    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = list(pool.map(take, range(40)))
    assert sum(w == 0.0 for w in waits) == 5
    assert all(w > 0 for w in waits if w)


def test_a_key_and_an_account_are_limited_in_one_write(engines: list[Engine]) -> None:
    """``take_each``: one transaction for both buckets of a request, each answered as ``take``
    would; a refusal by one leaves the other's token taken, as two calls would."""
    one, two = (SharedBuckets(e) for e in engines)
    writes: list[str] = []
    event.listen(engines[0], "commit", lambda conn: writes.append("commit"))
    pair = [("key k1", 1.0, 1), ("account F", 1.0, 2)]
    assert one.take_each("eligibility", pair, NOW_US) == [0.0, 0.0]
    assert writes == ["commit"], "both buckets in one transaction"
    assert one.take_each("eligibility", pair, NOW_US) == [pytest.approx(1.0), 0.0]
    assert two.take("eligibility", "account F", 1.0, 2, NOW_US) == pytest.approx(1.0)  # two taken
    assert two.take("eligibility", "key k1", 1.0, 1, NOW_US + SECOND_US) == 0.0


def test_a_bucket_in_the_past_is_a_full_one_and_is_purged(engines: list[Engine]) -> None:
    buckets = SharedBuckets(engines[0])
    assert buckets.take("claim", "account D", 1.0, 1, NOW_US) == 0.0
    assert buckets.take("claim", "account D", 1.0, 1, NOW_US) == pytest.approx(1.0)
    later = NOW_US + 10 * SECOND_US
    buckets._purged_at = 0.0  # due for a purge
    assert buckets.take("claim", "account E", 1.0, 1, later) == 0.0
    with engines[0].connect() as conn:
        names = conn.execute(select(rate_limits.c.bucket)).scalars().all()
        assert names == ["account E"]  # D's time has passed: the same as no row at all
        assert conn.execute(select(func.count()).select_from(rate_limits)).scalar_one() == 1
    assert buckets.take("claim", "account D", 1.0, 1, later) == 0.0


class FixedClock:
    def __init__(self, now_us: int) -> None:
        self.instant_us = now_us

    def now_us(self) -> int:
        return self.instant_us


def _limiters(engines: list[Engine], clock: FixedClock) -> list[SharedRateLimiter]:
    return [SharedRateLimiter(SharedBuckets(e), clock) for e in engines]


def _commits(engines: list[Engine]) -> list[str]:
    seen: list[str] = []
    for engine in engines:
        event.listen(engine, "commit", lambda conn: seen.append("commit"))
    return seen


def _recorded_us(engine: Engine, name: str, bucket: str) -> int:
    with engine.connect() as conn:
        tat = conn.execute(
            select(rate_limits.c.tat_us).where(rate_limits.c.name == name, rate_limits.c.bucket == bucket)
        ).scalar_one()
    return int(tat) - NOW_US


def test_most_requests_are_let_through_without_a_write(engines: list[Engine]) -> None:
    """A process spends its allowance (64 here) before it asks the row, and every token it let
    through reaches the row: when it next asks, when ``RECORD_EVERY_US`` has passed, or on ``record``."""
    clock = FixedClock(NOW_US)
    one, two = _limiters(engines, clock)
    rate = Rate(per_second=1000.0, burst=2000)
    assert advance_of(rate) == 64
    commits = _commits(engines)
    answers = [one.take_each("eligibility", [("key k", rate), ("account G", rate)]) for _ in range(300)]
    assert answers == [[0.0, 0.0]] * 300
    # One exchange per 65 requests (64 on the allowance, one asks): its recording and its take.
    assert len(commits) == 2 * (300 // 65)
    assert two.take("eligibility", "key k", rate) == 0.0  # another process: a bucket it never saw
    clock.instant_us += 100_000  # the time to record has come: the next request records
    assert two.take("eligibility", "key k", rate) == 0.0
    one.record()
    assert _recorded_us(engines[0], "eligibility", "key k") == 302 * 1000  # every token, none twice
    assert _recorded_us(engines[0], "eligibility", "account G") == 300 * 1000


@pytest.mark.parametrize("burst", [40, 400])
def test_two_processes_exceed_a_limit_by_at_most_their_allowances(engines: list[Engine], burst: int) -> None:
    clock = FixedClock(NOW_US)
    limiters = _limiters(engines, clock)
    rate = Rate(per_second=0.001, burst=burst)  # no token comes back during the test

    def take(i: int) -> float:
        return limiters[i % 2].take("claim", "account H", rate)

    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = list(pool.map(take, range(3 * burst)))
    let_through = sum(w == 0.0 for w in waits)
    assert burst <= let_through <= burst + 2 * advance_of(rate), let_through
    for limiter in limiters:
        limiter.record()
    assert _recorded_us(engines[0], "claim", "account H") == let_through * 1000 * 1_000_000


def test_a_small_burst_is_exact_across_processes(engines: list[Engine]) -> None:
    """Under eight tokens of burst there is no allowance: every request asks the row, as before."""
    clock = FixedClock(NOW_US)
    one, two = _limiters(engines, clock)
    rate = Rate(per_second=2.0, burst=5)
    assert advance_of(rate) == 0
    waits = [(one, two)[i % 2].take("claim", "account I", rate) for i in range(12)]
    assert waits[:5] == [0.0] * 5 and all(w > 0 for w in waits[5:])
    clock.instant_us += SECOND_US // 2
    assert [two.take("claim", "account I", rate), one.take("claim", "account I", rate)][0] == 0.0


def test_one_process_alone_gets_the_whole_burst(engines: list[Engine]) -> None:
    clock = FixedClock(NOW_US)
    one = _limiters(engines, clock)[0]
    rate = Rate(per_second=0.001, burst=100)
    waits = [one.take("claim", "account J", rate) for _ in range(150)]
    assert waits[:100] == [0.0] * 100 and all(w > 0 for w in waits[100:])


@pytest.mark.parametrize(
    ("text", "per_second", "burst"),
    [("20/s", 20.0, 40), ("120/min", 2.0, 4), ("1/min", 1 / 60, 1), ("3600/h", 1.0, 2), (" 2 / s ", 2.0, 4)],
)
def test_rates_read_as_written(text: str, per_second: float, burst: int) -> None:
    assert Rate.parse(text, "--rate-per-key") == Rate(per_second=pytest.approx(per_second), burst=burst)


@pytest.mark.parametrize("text", ["", "20", "0/s", "-1/s", "20/day", "1e9/s", "2000000/s", "x/s"])
def test_a_rate_that_is_not_one_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(InputError) as caught:
        Rate.parse(text, "--rate-per-account")
    assert caught.value.param == "--rate-per-account" and "20/s" in caught.value.message
