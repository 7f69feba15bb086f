from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.domain.errors import InputError
from pledge.domain.periods import (
    Period,
    add_days,
    add_months,
    days_between,
    days_in_month,
    parse_period,
)
from pledge.domain.timeutil import format_instant, from_us, parse_instant, to_us, zone

SHANGHAI = "Asia/Shanghai"
DST_ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Apia",  # skipped a whole local day, 2011-12-30
    "Asia/Shanghai",
    "UTC",
]


def at(text: str) -> int:
    return parse_instant(text)


def local(us: int, tz_name: str) -> str:
    return format_instant(us, zone(tz_name))


# --- the worked example of scenario B -------------------------------------------------------


@pytest.mark.parametrize(
    "bought",
    [
        "2023-11-01T00:00:00+08:00",
        "2023-11-01T10:23:45+08:00",
        "2023-11-01T23:59:59+08:00",
        "2023-10-31T16:00:00Z",
    ],
)
def test_worked_example_day_counts_do_not_depend_on_the_time_of_day(bought: str) -> None:
    start = at(bought)
    v1_end = (Period(12) + Period(6)).add_to(start, SHANGHAI)
    v2_end = Period(12).add_to(start, SHANGHAI)
    assert local(v1_end, SHANGHAI)[:10] == "2025-05-01"
    assert local(v2_end, SHANGHAI)[:10] == "2024-11-01"
    assert days_between(start, v1_end, SHANGHAI) == 547
    assert days_between(start, v2_end, SHANGHAI) == 366
    assert local(add_days(v1_end, 300, SHANGHAI), SHANGHAI)[:10] == "2026-02-25"
    # the wall-clock time of day is kept
    assert local(v1_end, SHANGHAI)[10:] == local(start, SHANGHAI)[10:]


# --- months ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2023-01-31", 1, "2023-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
        ("2023-03-31", 1, "2023-04-30"),
        ("2023-08-31", 18, "2025-02-28"),
        ("2023-12-15", 1, "2024-01-15"),
        ("2023-01-15", -1, "2022-12-15"),
        ("2023-03-31", -1, "2023-02-28"),
    ],
)
def test_month_end_clamping(start: str, months: int, expected: str) -> None:
    us = at(f"{start}T09:00:00+08:00")
    assert local(add_months(us, months, SHANGHAI), SHANGHAI) == f"{expected}T09:00:00+08:00"


def test_anchor_keeps_clamping_from_accumulating() -> None:
    anchor = at("2023-01-31T09:00:00+08:00")
    feb = add_months(anchor, 1, SHANGHAI)
    assert local(feb, SHANGHAI)[:10] == "2023-02-28"
    assert local(add_months(feb, 1, SHANGHAI), SHANGHAI)[:10] == "2023-03-28"  # no anchor: drifts
    assert local(add_months(feb, 1, SHANGHAI, anchor_us=anchor), SHANGHAI)[:10] == "2023-03-31"
    # zero months never moves, anchor or not
    assert add_months(feb, 0, SHANGHAI, anchor_us=anchor) == feb


def test_nonexistent_local_time_moves_forward_by_the_gap() -> None:
    ny = "America/New_York"
    assert local(add_months(at("2021-02-14T02:30:00-05:00"), 1, ny), ny) == "2021-03-14T03:30:00-04:00"
    lord_howe = "Australia/Lord_Howe"  # a 30-minute DST shift
    start = at("2021-09-03T02:15:00+10:30")
    assert local(add_months(start, 1, lord_howe), lord_howe) == "2021-10-03T02:45:00+11:00"
    # Apia skipped 2011-12-30 entirely: the day moves forward to the 31st
    apia = "Pacific/Apia"
    assert local(add_months(at("2011-11-30T10:00:00-10:00"), 1, apia), apia) == "2011-12-31T10:00:00+14:00"


def test_ambiguous_local_time_takes_the_earlier_instant() -> None:
    ny = "America/New_York"
    result = add_months(at("2021-10-07T01:30:00-04:00"), 1, ny)
    assert local(result, ny) == "2021-11-07T01:30:00-04:00"  # EDT, the first 01:30
    # the second 01:30 (EST) moved by a month is the normal 01:30
    second = at("2021-11-07T01:30:00-05:00")
    assert local(add_months(second, 1, ny), ny) == "2021-12-07T01:30:00-05:00"
    assert add_days(second, 0, ny) == second


def test_add_days_keeps_the_wall_time_across_dst() -> None:
    london = "Europe/London"
    start = at("2023-03-25T12:00:00+00:00")
    end = add_days(start, 1, london)
    assert local(end, london) == "2023-03-26T12:00:00+01:00"
    assert end - start == 23 * 3600 * 1_000_000
    assert days_between(start, end, london) == 1


def test_days_between_counts_local_dates() -> None:
    start = at("2023-11-01T23:30:00+08:00")
    assert days_between(start, at("2023-11-02T00:10:00+08:00"), SHANGHAI) == 1
    assert days_between(start, at("2023-11-01T15:59:59Z"), SHANGHAI) == 0
    assert days_between(at("2023-11-02T00:10:00+08:00"), start, SHANGHAI) == -1


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 months", Period(12, 0)),
        ("6 months", Period(6, 0)),
        ("1 year", Period(12, 0)),
        ("30 days", Period(0, 30)),
        ("1 month", Period(1, 0)),
        ("2 weeks", Period(0, 14)),
        ("1 year and 6 months", Period(18, 0)),
        (" 1 Year, 15 days ", Period(12, 15)),
    ],
)
def test_parse_period(text: str, expected: Period) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "12", "twelve months", "0 months", "12 monthz", ", 1 month", "1 month 1 month", "-1 month", 12],
)
def test_parse_period_refuses_with_the_field_named(text: object) -> None:
    with pytest.raises(InputError) as caught:
        parse_period(text, param="plans[1].period")
    assert caught.value.param == "plans[1].period"
    assert "plans[1].period" in caught.value.message


def test_parse_period_refuses_absurd_lengths() -> None:
    with pytest.raises(InputError, match="longer than"):
        parse_period("200 years")


def test_period_describe_and_sum() -> None:
    assert str(Period(12) + Period(6)) == "18 months"
    assert Period(1, 1).describe() == "1 month and 1 day"
    assert Period(0, 30).describe() == "30 days"
    with pytest.raises(InputError):
        Period(-1)


def test_months_then_days() -> None:
    start = at("2023-01-31T00:00:00+08:00")
    assert local(Period(1, 1).add_to(start, SHANGHAI), SHANGHAI)[:10] == "2023-03-01"


# --- properties ------------------------------------------------------------------------------

instants = st.integers(
    min_value=to_us(datetime.fromisoformat("1990-01-01T00:00:00+00:00")),
    max_value=to_us(datetime.fromisoformat("2037-12-31T00:00:00+00:00")),
)


@given(instants, st.integers(min_value=-240, max_value=240), st.sampled_from(DST_ZONES))
def test_add_months_lands_on_the_clamped_day_and_a_real_local_time(
    start: int, months: int, name: str
) -> None:
    tz = zone(name)
    before = from_us(start, tz)
    result = from_us(add_months(start, months, name), tz)
    index = before.year * 12 + before.month - 1 + months
    year, month = index // 12, index % 12 + 1
    intended = datetime(
        year, month, min(before.day, days_in_month(year, month)), before.hour, before.minute, before.second
    ).replace(microsecond=before.microsecond)
    wall = result.replace(tzinfo=None, fold=0)
    if months == 0:
        assert result == before
        return
    first = to_us(intended.replace(tzinfo=tz, fold=0))
    second = to_us(intended.replace(tzinfo=tz, fold=1))
    exists = from_us(first, tz).replace(tzinfo=None) == intended
    assert to_us(result) == first  # the documented resolution
    if exists:
        assert wall == intended
        assert to_us(result) <= second  # ambiguous: the earlier of the two instants
    else:
        # nonexistent: moved forward by the gap (at most a day, in Apia)
        assert intended < wall <= intended + timedelta(days=1)
    # what we return is a real instant: formatting it and parsing it back is the identity
    assert parse_instant(result.isoformat()) == to_us(result)


@given(instants, st.integers(min_value=0, max_value=120), st.integers(min_value=0, max_value=120))
def test_more_months_is_later_or_equal(start: int, a: int, b: int) -> None:
    for name in DST_ZONES:
        low, high = sorted((a, b))
        assert add_months(start, low, name) <= add_months(start, high, name)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2037, 1, 1)), st.sampled_from(DST_ZONES))
def test_twelve_months_is_365_or_366_local_days(day: date, name: str) -> None:
    start = to_us(datetime(day.year, day.month, day.day, 12, 0, tzinfo=zone(name)))
    assert days_between(start, add_months(start, 12, name), name) in {365, 366} or (
        name == "Pacific/Apia" and day.year in {2010, 2011}
    )


@given(st.integers(min_value=1990, max_value=2036))
def test_leap_day_anniversaries(year: int) -> None:
    leap = next(y for y in range(year, year + 4) if days_in_month(y, 2) == 29)
    start = at(f"{leap}-02-29T08:00:00+08:00")
    assert local(add_months(start, 12, SHANGHAI), SHANGHAI)[:10] == f"{leap + 1}-02-28"
    assert local(add_months(start, 48, SHANGHAI), SHANGHAI)[:10] == f"{leap + 4}-02-29"


@given(instants, st.integers(min_value=-1000, max_value=1000), st.sampled_from(DST_ZONES))
def test_add_days_moves_the_local_date_exactly(start: int, days: int, name: str) -> None:
    moved = add_days(start, days, name)
    shift = days_between(start, moved, name)
    assert shift == days or (name == "Pacific/Apia" and abs(shift - days) == 1)


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=1000))
def test_describe_round_trips(months: int, days: int) -> None:
    period = Period(months, days)
    if not period.is_zero:
        assert parse_period(period.describe()) == period
