"""Rate limits shared through the database (ADR 30), on SQLite and PostgreSQL: the same bucket seen
from two engines (two server processes) lets through exactly its burst, then one request per
interval, and concurrent requests never take more than the bucket holds."""

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
from pledge.entrypoints.web.ratelimit import Rate

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
