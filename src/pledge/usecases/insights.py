"""Read-only views for the web console: campaigns at a glance, near misses by day, grants over time.

Nothing here changes state. The heavy parts (counting near misses per day outside
the window, bucketing grants over time) are port methods of :class:`Insights`, so
they run inside the database like every other scan; the use cases turn the
database's 15-minute UTC buckets into local dates in the campaign's zone (every
zone offset in use is a multiple of 15 minutes, so a bucket never straddles two
local dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from pledge.domain.money import parse_minor
from pledge.domain.timeutil import format_instant, local_date
from pledge.usecases.common import latest_version, require_campaign, selection_for, terms_of
from pledge.usecases.ports import RuleCompiler, UnitOfWorkFactory
from pledge.usecases.report import campaign_report
from pledge.usecases.scan_ports import Selection

BUCKET_US = 15 * 60 * 1_000_000
MAX_HISTOGRAM_DAYS = 60


class Insights(Protocol):
    """Grouped reads the console draws charts from (a separate port: ``ports.py`` stays as it is)."""

    def near_miss_buckets(self, selection: Selection, max_days: int) -> list[tuple[int, int]]:
        """Purchases passing every rule condition but outside the window by at most ``max_days`` local
        days, as ``(bucket, count)`` with ``bucket = purchased_at_us // BUCKET_US``."""
        ...

    def grant_buckets(self, campaign_id: str) -> list[tuple[str, int, int, int]]:
        """``(series, bucket, count, amount_minor)`` for series ``issued``, ``claimed`` and ``expired``."""
        ...


SERIES = ("issued", "claimed", "expired")


@dataclass(frozen=True, slots=True)
class NearMissHistogram:
    """Purchases that missed only the window, by whole local days before and after it."""

    campaign: str
    max_days: int
    before: tuple[tuple[int, int], ...]  # (days, count) for 1..max_days
    after: tuple[tuple[int, int], ...]
    total: int


@dataclass(frozen=True, slots=True)
class TimelineDay:
    """Cumulative (count, amount in minor units) per series at the end of one local date."""

    date: date
    running: dict[str, tuple[int, int]]  # series -> (count, amount_minor)


@dataclass(frozen=True, slots=True)
class GrantTimeline:
    campaign: str
    currency: str
    timezone: str
    budget_minor: int | None
    days: tuple[TimelineDay, ...]
    totals: dict[str, tuple[int, int]]  # series -> (count, amount_minor), over every day


def list_campaigns(uow_factory: UnitOfWorkFactory) -> list[dict[str, Any]]:
    """Every campaign with its state and money (the report of each), newest first."""
    with uow_factory(read_only=True) as uow:
        records = sorted(uow.campaigns.all(), key=lambda r: (-r.created_at_us, r.campaign_id))
        names = {}
        for record in records:
            versions = uow.campaigns.versions(record.campaign_id)
            names[record.campaign_id] = str(versions[-1].document.get("name", "")) if versions else ""
    rows = []
    for record in records:
        report = campaign_report(uow_factory, record.campaign_id)
        rows.append({**report, "kind": record.kind, "name": names[record.campaign_id]})
    return rows


def campaign_detail(uow_factory: UnitOfWorkFactory, campaign_id: str) -> dict[str, Any]:
    """One campaign's record, every terms version with its document and approval, and its history."""
    with uow_factory(read_only=True) as uow:
        record = require_campaign(uow, campaign_id)
        versions = uow.campaigns.versions(campaign_id)
        events = uow.campaigns.events(campaign_id)
    return {
        "id": campaign_id,
        "kind": record.kind,
        "state": record.state.value,
        "currency": record.currency,
        "launched": record.state.value not in ("draft", "approved"),
        "versions": [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "author": v.author,
                "created_at": format_instant(v.created_at_us),
                "approved_by": v.approved_by if v.approved else None,
                "approved_at": format_instant(v.approved_at_us)
                if v.approved and v.approved_at_us is not None
                else None,
                "approved": v.approved,
                "document": dict(v.document),
            }
            for v in versions
        ],
        "events": [
            {"kind": e["kind"], "actor": e["actor"], "at": format_instant(e["at_us"]), "detail": e["detail"]}
            for e in events
        ],
    }


def near_miss_histogram(
    uow_factory: UnitOfWorkFactory, rules: RuleCompiler, insights: Insights, campaign_id: str, max_days: int
) -> NearMissHistogram:
    """How many purchases missed only the window, by whole local days before or after it."""
    max_days = max(1, min(max_days, MAX_HISTOGRAM_DAYS))
    with uow_factory(read_only=True) as uow:
        require_campaign(uow, campaign_id)
        terms = terms_of(latest_version(uow, campaign_id))
    window = terms.window
    before = dict.fromkeys(range(1, max_days + 1), 0)
    after = dict.fromkeys(range(1, max_days + 1), 0)
    for bucket, count in insights.near_miss_buckets(selection_for(terms, rules), max_days):
        instant = bucket * BUCKET_US
        days = window.distance_days(instant)
        if not 1 <= days <= max_days:
            continue
        side = before if instant < window.start_us else after
        side[days] += count
    return NearMissHistogram(
        campaign_id,
        max_days,
        tuple(before.items()),
        tuple(after.items()),
        sum(before.values()) + sum(after.values()),
    )


def grant_timeline(uow_factory: UnitOfWorkFactory, insights: Insights, campaign_id: str) -> GrantTimeline:
    """Issued, claimed and expired per local date in the campaign's zone, cumulative, against the budget."""
    report = campaign_report(uow_factory, campaign_id)
    with uow_factory(read_only=True) as uow:
        terms = terms_of(latest_version(uow, campaign_id))
    currency, tz = terms.currency, terms.window.tz
    per_day: dict[date, dict[str, list[int]]] = {}
    for series, bucket, count, amount in insights.grant_buckets(campaign_id):
        day = local_date(bucket * BUCKET_US, tz)
        entry = per_day.setdefault(day, {s: [0, 0] for s in SERIES})
        entry[series][0] += count
        entry[series][1] += amount
    running = {s: [0, 0] for s in SERIES}
    days = []
    for day in sorted(per_day):
        for series, (count, amount) in per_day[day].items():
            running[series][0] += count
            running[series][1] += amount
        days.append(TimelineDay(day, {s: (c, a) for s, (c, a) in running.items()}))
    budget = report["budget"]
    return GrantTimeline(
        campaign_id,
        currency,
        terms.timezone,
        parse_minor(budget, currency) if budget is not None else None,
        tuple(days),
        {s: (c, a) for s, (c, a) in running.items()},
    )
