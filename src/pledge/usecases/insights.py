"""Read-only views for the web console: campaigns at a glance, near misses by day, grants over time.

Nothing here changes state. The heavy parts (counting near misses per day outside
the window, bucketing grants over time) are port methods of :class:`Insights`, so
they run inside the database like every other scan; the use cases turn the
database's 15-minute UTC buckets into local dates in the campaign's zone (every
zone offset in use is a multiple of 15 minutes, so a bucket never straddles two
local dates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from pledge.domain.campaign import CampaignState
from pledge.domain.timeutil import local_date
from pledge.usecases.common import latest_version, require_campaign, selection_for, terms_of
from pledge.usecases.ports import RuleCompiler, UnitOfWorkFactory
from pledge.usecases.report import CampaignReport, campaign_report
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


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    """One row of the campaign list: the campaign's report (``campaign_report``), its kind and the
    name its latest terms give it."""

    id: str
    kind: str
    name: str
    report: CampaignReport


@dataclass(frozen=True, slots=True)
class VersionHistory:
    """One stored terms version: who wrote it, and its approval where that approval still counts."""

    version: int
    content_hash: str
    author: str
    created_at_us: int
    approved_by: str | None  # None unless approved for this very content
    approved_at_us: int | None
    approved: bool
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CampaignEvent:
    kind: str
    actor: str
    at_us: int
    detail: Any


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    """One campaign's record, every terms version with its document and approval, and its history."""

    id: str
    kind: str
    state: CampaignState
    currency: str
    versions: tuple[VersionHistory, ...]
    events: tuple[CampaignEvent, ...]

    @property
    def launched(self) -> bool:
        return self.state not in (CampaignState.DRAFT, CampaignState.APPROVED)


def list_campaigns(uow_factory: UnitOfWorkFactory) -> list[CampaignSummary]:
    """Every campaign with its state and money (the report of each), newest first."""
    with uow_factory(read_only=True) as uow:
        records = sorted(uow.campaigns.all(), key=lambda r: (-r.created_at_us, r.campaign_id))
        names = {}
        for record in records:
            versions = uow.campaigns.versions(record.campaign_id)
            names[record.campaign_id] = str(versions[-1].document.get("name", "")) if versions else ""
    return [
        CampaignSummary(
            record.campaign_id,
            record.kind,
            names[record.campaign_id],
            campaign_report(uow_factory, record.campaign_id),
        )
        for record in records
    ]


def campaign_detail(uow_factory: UnitOfWorkFactory, campaign_id: str) -> CampaignDetail:
    """One campaign's record, every terms version with its document and approval, and its history."""
    with uow_factory(read_only=True) as uow:
        record = require_campaign(uow, campaign_id)
        versions = uow.campaigns.versions(campaign_id)
        events = uow.campaigns.events(campaign_id)
    return CampaignDetail(
        campaign_id,
        record.kind,
        record.state,
        record.currency,
        tuple(
            VersionHistory(
                v.version,
                v.content_hash,
                v.author,
                v.created_at_us,
                v.approved_by if v.approved else None,
                v.approved_at_us if v.approved else None,
                v.approved,
                v.document,
            )
            for v in versions
        ),
        tuple(CampaignEvent(e["kind"], e["actor"], e["at_us"], e["detail"]) for e in events),
    )


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
    return GrantTimeline(
        campaign_id,
        currency,
        terms.timezone,
        report.budget_minor,
        tuple(days),
        {s: (c, a) for s, (c, a) in running.items()},
    )
