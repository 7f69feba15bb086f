"""Calendar periods in an IANA zone: months with month-end clamping, days, day counts.

Subscriptions are sold in *calendar* months read in the campaign's zone, the
way customers and billing engineers count them: 2023-11-01 + 12 months is
2024-11-01 whatever the number of days in between, and a day that does not
exist in the target month is clamped to that month's last day
(Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year).

Moving a local wall-clock time to another date can land on a time the zone
skips or repeats. Every function here resolves it the same way, which is
``fold=0`` in :mod:`zoneinfo` and what java.time and JavaScript Temporal
("compatible") do:

* a **nonexistent** local time (inside a spring-forward gap) moves *forward*
  by the length of the gap: 02:30 on a New York spring-forward day is 03:30
  EDT, 02:15 on a Lord Howe spring-forward day is 02:45;
* an **ambiguous** local time (inside a fall-back overlap) takes the
  *earlier* of its two instants.

Day counts (:func:`days_between`) are whole local calendar days between two
local dates, so the time of day of a purchase never changes how many days it
bought, and a 23- or 25-hour DST day still counts as one day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pledge.domain.errors import InputError
from pledge.domain.timeutil import from_us, local_date, to_us, zone

# Upper bounds keep a typo ("1200 years") from producing dates past year 9999.
MAX_MONTHS = 1200
MAX_DAYS = 36_600


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    year_shift, month_index = divmod(year * 12 + (month - 1) + months, 12)
    if not 1 <= year_shift <= 9999:
        raise InputError(f"moving {months} months from {year}-{month:02d} leaves the calendar")
    return year_shift, month_index + 1


def resolve_local(day: date, wall: time, tz: ZoneInfo) -> int:
    """The instant of a local date and wall-clock time in ``tz``.

    A nonexistent local time moves forward by the DST gap; an ambiguous one
    takes the earlier instant (both are ``fold=0``).
    """
    moment = datetime(
        day.year, day.month, day.day, wall.hour, wall.minute, wall.second, wall.microsecond, tzinfo=tz, fold=0
    )
    return to_us(moment)


def add_months(start_us: int, months: int, tz_name: str, *, anchor_us: int | None = None) -> int:
    """``start`` moved ``months`` calendar months in ``tz_name``, clamped to the month's end.

    The local date of ``start`` moves by whole months; its day of month is
    clamped to the last day of the target month (Jan 31 + 1 month = Feb 28/29,
    Feb 29 + 12 months = Feb 28). The wall-clock time stays the same, resolved
    DST-safely (a nonexistent time moves forward by the gap, an ambiguous one
    takes the earlier instant).

    ``anchor_us`` is a billing anchor: when given, the target day of month and
    the wall-clock time come from the anchor instead of ``start``. Renewals
    pass the subscription's first start so clamping never accumulates:
    Jan 31 → Feb 28 → Mar 31, not Mar 28. Zero months returns ``start``
    unchanged, anchor or not.
    """
    if months == 0:
        return start_us  # not re-resolved: the second of two ambiguous instants stays itself
    tz = zone(tz_name)
    local = from_us(start_us, tz)
    reference = local if anchor_us is None else from_us(anchor_us, tz)
    year, month = _shift_month(local.year, local.month, months)
    day = min(reference.day, days_in_month(year, month))
    return resolve_local(date(year, month, day), reference.time(), tz)


def add_days(start_us: int, days: int, tz_name: str) -> int:
    """``start`` moved ``days`` calendar days in ``tz_name``, keeping its wall-clock time.

    Not ``days * 24h``: across a DST change the result is still at the same
    local time. A nonexistent time moves forward by the gap, an ambiguous one
    takes the earlier instant.
    """
    if days == 0:
        return start_us
    tz = zone(tz_name)
    local = from_us(start_us, tz)
    try:
        target = local.date() + timedelta(days=days)
    except OverflowError:
        raise InputError(f"moving {days} days from {local.date()} leaves the calendar") from None
    return resolve_local(target, local.time(), tz)


def days_between(start_us: int, end_us: int, tz_name: str) -> int:
    """Whole local calendar days from the local date of ``start`` to that of ``end``.

    The time of day is ignored on purpose: a subscription bought at 10:23 on
    2023-11-01 and ending 2024-11-01 received 366 days, as one bought at
    midnight did. Negative when ``end`` is on an earlier local date.
    """
    tz = zone(tz_name)
    return (local_date(end_us, tz) - local_date(start_us, tz)).days


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar length: whole months, then whole days (both >= 0)."""

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        for name, value, limit in (("months", self.months, MAX_MONTHS), ("days", self.days, MAX_DAYS)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
                raise InputError(f"period {name}: an integer from 0 to {limit} is required", param="period")

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and self.days == 0

    def __add__(self, other: Period) -> Period:
        return Period(self.months + other.months, self.days + other.days)

    def add_to(self, start_us: int, tz_name: str, *, anchor_us: int | None = None) -> int:
        """The end of this period from ``start``: months first (see :func:`add_months`), then days.

        Months before days, as in ISO 8601 and java.time, so "1 month 1 day"
        from Jan 31 is Mar 1 (Feb 28 + 1 day), not Mar 3.
        """
        end = add_months(start_us, self.months, tz_name, anchor_us=anchor_us)
        return add_days(end, self.days, tz_name)

    def describe(self) -> str:
        """Customer-readable and canonical: ``12 months``, ``30 days``, ``1 month and 15 days``."""
        parts = []
        if self.months:
            parts.append(f"{self.months} month{'' if self.months == 1 else 's'}")
        if self.days:
            parts.append(f"{self.days} day{'' if self.days == 1 else 's'}")
        return " and ".join(parts) or "0 days"

    def __str__(self) -> str:
        return self.describe()


_PART = re.compile(r"(\d+)\s*(year|month|week|day)s?\b")
_SEPARATOR = re.compile(r"\s*(?:,|\+|and)?\s*")
_UNIT_MONTHS = {"year": 12, "month": 1}
_UNIT_DAYS = {"week": 7, "day": 1}


def parse_period(text: object, *, param: str = "period") -> Period:
    """Parse ``12 months``, ``1 year``, ``6 months``, ``30 days`` or ``1 year and 6 months``.

    Years are 12 months and weeks 7 days; each unit may appear once; the total
    must be positive. Anything else is refused naming ``param``.
    """
    example = 'a period like "12 months", "1 year" or "30 days"'
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{param}: {text!r} is not {example}", param=param, code="invalid_period")
    raw = text.strip().lower()
    months = days = position = 0
    seen: set[str] = set()
    for match in _PART.finditer(raw):
        unit = match[2]
        between = raw[position : match.start()]
        if (between if position == 0 else not _SEPARATOR.fullmatch(between)) or unit in seen:
            raise InputError(f"{param}: {text!r} is not {example}", param=param, code="invalid_period")
        seen.add(unit)
        months += int(match[1]) * _UNIT_MONTHS.get(unit, 0)
        days += int(match[1]) * _UNIT_DAYS.get(unit, 0)
        position = match.end()
    if not seen or raw[position:].strip():
        raise InputError(f"{param}: {text!r} is not {example}", param=param, code="invalid_period")
    if months > MAX_MONTHS or days > MAX_DAYS:
        raise InputError(
            f"{param}: {text!r} is longer than {MAX_MONTHS} months or {MAX_DAYS} days",
            param=param,
            code="invalid_period",
        )
    if months == 0 and days == 0:
        raise InputError(f"{param}: {text!r} must be longer than zero", param=param, code="invalid_period")
    return Period(months, days)
