"""Instants, durations and local-date windows.

An *instant* is stored and compared as integer microseconds since the Unix
epoch, UTC (``*_us``). Text instants must carry an offset: a naive time is
refused, because a CEL binding or a database would otherwise read it in the
server's own zone. Windows are whole local dates in a campaign's IANA zone,
both ends inclusive, turned into a half-open UTC interval ``[start_us, end_us)``
by asking the zone database for the first instant of each local date, which
stays right across DST changes (including zones whose midnight does not exist).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pledge.domain.errors import InputError, quoted

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Accepts "Z" and "+08:00"/"+0800"; fromisoformat does the parsing.
_HAS_OFFSET = re.compile(r"(Z|z|[+-]\d{2}(:?\d{2})?(:?\d{2}(\.\d+)?)?)$")


def zone(name: str, *, param: str = "timezone") -> ZoneInfo:
    """Look up an IANA zone, refusing abbreviations and unknown names with a clear error."""
    if not isinstance(name, str) or ("/" not in name and name != "UTC"):
        raise InputError(
            f"{param}: {quoted(name)} is not an IANA zone like Asia/Shanghai",
            param=param,
            code="invalid_timezone",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"{param}: unknown time zone {quoted(name)}", param=param, code="invalid_timezone"
        ) from None


def to_us(moment: datetime) -> int:
    """An aware datetime as epoch microseconds (exact integer arithmetic)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("instant has no UTC offset", code="naive_instant")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(instant_us: int, tz: ZoneInfo | None = None) -> datetime:
    moment = _EPOCH + timedelta(microseconds=instant_us)
    return moment.astimezone(tz) if tz is not None else moment


def parse_instant(text: str, *, param: str = "instant") -> int:
    """Parse ISO 8601 *with offset* into epoch microseconds."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{param}: an instant is required", param=param, code="invalid_instant")
    raw = text.strip()
    if not _HAS_OFFSET.search(raw) or "T" not in raw.upper():
        raise InputError(
            f"{param}: {quoted(text)} has no UTC offset; write it like 2011-12-07T23:59:59+08:00 or ...Z",
            param=param,
            code="naive_instant",
        )
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"{param}: {quoted(text)} is not an ISO 8601 instant", param=param, code="invalid_instant"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"{param}: {quoted(text)} has no UTC offset", param=param, code="naive_instant")
    return to_us(moment)


def format_instant(instant_us: int, tz: ZoneInfo | None = None) -> str:
    """ISO 8601 with offset; UTC prints as ``Z``."""
    moment = from_us(instant_us, tz)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z") if tz is None else text


def parse_date(text: str, *, param: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise InputError(
            f"{param}: {quoted(text)} is not a date like 2011-09-01", param=param, code="invalid_date"
        ) from None


_DURATION = re.compile(r"^\s*(\d+)\s*(d|h|m|s)\s*$")
_DURATION_US = {"d": US_PER_DAY, "h": 3600 * US_PER_SECOND, "m": 60 * US_PER_SECOND, "s": US_PER_SECOND}


def parse_duration_us(text: str, *, param: str) -> int:
    """Parse ``30d``, ``24h``, ``90m`` or ``45s`` into microseconds (exact days, not calendar months)."""
    match = _DURATION.match(str(text))
    if match is None or int(match[1]) <= 0:
        raise InputError(
            f"{param}: {quoted(text)} is not a positive duration like 30d or 24h",
            param=param,
            code="invalid_duration",
        )
    return int(match[1]) * _DURATION_US[match[2]]


def first_instant_of(day: date, tz: ZoneInfo) -> int:
    """The first instant of a local date, DST-safe.

    A local midnight that a DST jump skips resolves (fold=0) to the pre-jump
    offset, which names exactly the transition instant: the day's first moment.
    An ambiguous midnight (fold=0) is its earlier occurrence: again the first.
    """
    return to_us(datetime(day.year, day.month, day.day, tzinfo=tz))


def local_date(instant_us: int, tz: ZoneInfo) -> date:
    return from_us(instant_us, tz).date()


@dataclass(frozen=True, slots=True)
class LocalDateWindow:
    """Whole local dates ``first..last`` (both inclusive) in ``tz``."""

    first: date
    last: date
    tz_name: str
    # Derived once: the bounds are read per purchase on hot paths (explain, per-row evaluation).
    start_us: int = field(init=False, compare=False, repr=False)  # first instant inside
    end_us: int = field(init=False, compare=False, repr=False)  # first instant after (exclusive)

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InputError(
                f"window ends ({self.last}) before it starts ({self.first})",
                param="purchased",
                code="invalid_window",
            )
        tz = zone(self.tz_name)
        object.__setattr__(self, "start_us", first_instant_of(self.first, tz))
        object.__setattr__(self, "end_us", first_instant_of(self.last + timedelta(days=1), tz))

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.tz_name)

    def contains(self, instant_us: int) -> bool:
        return self.start_us <= instant_us < self.end_us

    def distance_days(self, instant_us: int) -> int:
        """Whole local days outside the window: 0 inside, N before the first or after the last date."""
        day = local_date(instant_us, self.tz)
        if day < self.first:
            return (self.first - day).days
        if day > self.last:
            return (day - self.last).days
        return 0

    def widened(self, days: int) -> LocalDateWindow:
        """The same window with ``days`` added at both ends."""
        if days < 0:
            raise InputError("widen days must be >= 0", param="widen_days")
        return LocalDateWindow(
            self.first - timedelta(days=days), self.last + timedelta(days=days), self.tz_name
        )
