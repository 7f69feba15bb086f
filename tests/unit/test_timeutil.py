from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pledge.domain.errors import InputError
from pledge.domain.timeutil import (
    US_PER_DAY,
    LocalDateWindow,
    first_instant_of,
    format_instant,
    local_date,
    parse_duration_us,
    parse_instant,
    zone,
)

WINDOW = LocalDateWindow(date(2011, 9, 1), date(2011, 12, 7), "Asia/Shanghai")


def test_seed_boundaries() -> None:
    assert WINDOW.contains(parse_instant("2011-12-07T23:59:59+08:00"))
    late = parse_instant("2011-12-07T16:30:00Z")  # 00:30 on Dec 8 in Shanghai
    assert not WINDOW.contains(late)
    assert WINDOW.distance_days(late) == 1
    assert WINDOW.contains(parse_instant("2011-09-01T00:00:00+08:00"))
    early = parse_instant("2011-08-31T23:59:59+08:00")
    assert not WINDOW.contains(early)
    assert WINDOW.distance_days(early) == 1
    assert WINDOW.contains(parse_instant("2011-08-31T16:00:00Z"))


@pytest.mark.parametrize("text", ["2011-12-07T23:59:59", "2011-12-07 23:59:59", "2011-12-07", ""])
def test_naive_or_dateless_instants_are_refused(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_instant(text, param="purchased_at")
    assert caught.value.param == "purchased_at"


def test_instant_round_trip_and_formats() -> None:
    us = parse_instant("2011-12-07T23:59:59.123456+08:00")
    assert format_instant(us) == "2011-12-07T15:59:59.123456Z"
    assert (
        format_instant(parse_instant("2011-12-07T16:30:00Z"), zone("Asia/Shanghai"))
        == "2011-12-08T00:30:00+08:00"
    )


@given(st.integers(min_value=-(2**52), max_value=2**52))
def test_format_parse_round_trip(us: int) -> None:
    assert parse_instant(format_instant(us)) == us


def test_dst_day_in_new_york_has_23_hours() -> None:
    tz = zone("America/New_York")
    start = first_instant_of(date(2021, 3, 14), tz)
    end = first_instant_of(date(2021, 3, 15), tz)
    assert end - start == 23 * 3600 * 1_000_000


def test_midnight_skipped_by_dst_is_the_transition_instant() -> None:
    # Sao Paulo skipped 2018-11-04 00:00..00:59: the day starts at 01:00 (-02:00) = 03:00Z.
    tz = zone("America/Sao_Paulo")
    assert format_instant(first_instant_of(date(2018, 11, 4), tz)) == "2018-11-04T03:00:00Z"
    assert local_date(first_instant_of(date(2018, 11, 4), tz), tz) == date(2018, 11, 4)


@given(
    st.dates(min_value=date(1971, 1, 1), max_value=date(2100, 1, 1)),
    st.sampled_from(
        [
            "Asia/Shanghai",
            "America/New_York",
            "Europe/London",
            "America/Sao_Paulo",
            "Australia/Lord_Howe",
            "Pacific/Apia",
            "UTC",
        ]
    ),
)
@example(date(2011, 12, 30), "Pacific/Apia")  # a date Samoa skipped when it crossed the date line
def test_first_instant_is_in_that_local_date_and_the_previous_is_not(day: date, name: str) -> None:
    tz = zone(name)
    first = first_instant_of(day, tz)
    assert local_date(first - 1, tz) < day <= local_date(first, tz)
    if local_date(first, tz) != day:  # no instant has that local date: it starts where the next does
        assert first == first_instant_of(day + timedelta(days=1), tz)


@given(st.integers(min_value=-(2**50), max_value=2**50))
def test_window_membership_agrees_with_local_dates(us: int) -> None:
    inside = WINDOW.first <= local_date(us, WINDOW.tz) <= WINDOW.last
    assert WINDOW.contains(us) == inside
    assert (WINDOW.distance_days(us) == 0) == inside


def test_window_end_before_start_is_refused() -> None:
    with pytest.raises(InputError, match="before it starts"):
        LocalDateWindow(date(2011, 12, 7), date(2011, 9, 1), "Asia/Shanghai")


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InputError, match="IANA"):
        zone("CST")
    with pytest.raises(InputError, match="unknown"):
        zone("Asia/Atlantis")


def test_durations() -> None:
    assert parse_duration_us("30d", param="claim_within") == 30 * US_PER_DAY
    with pytest.raises(InputError):
        parse_duration_us("0d", param="claim_within")
    with pytest.raises(InputError):
        parse_duration_us("1 month", param="claim_within")


def test_widened() -> None:
    wider = WINDOW.widened(3)
    assert (wider.first, wider.last) == (date(2011, 8, 29), date(2011, 12, 10))
