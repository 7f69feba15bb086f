"""Use-case results as the console's pages read them (the API's and the CLI's have their own)."""

from __future__ import annotations

from typing import Any

from pledge.domain.money import format_minor
from pledge.usecases.insights import GrantTimeline, NearMissHistogram
from pledge.usecases.shortfall import ShortfallPreview


def shortfall_json(preview: ShortfallPreview | None) -> dict[str, Any] | None:
    """The launch warning: purchases left unpaid, the money missing and the budget (ADR 15)."""
    if preview is None:
        return None
    return preview.shortfall.as_json(preview.currency)


def histogram_json(histogram: NearMissHistogram) -> dict[str, Any]:
    """The dry-run page's near misses by day before and after the window."""
    return {
        "campaign": histogram.campaign,
        "max_days": histogram.max_days,
        "before": [{"days": d, "count": n} for d, n in histogram.before],
        "after": [{"days": d, "count": n} for d, n in histogram.after],
        "total": histogram.total,
    }


def timeline_json(timeline: GrantTimeline) -> dict[str, Any]:
    """The campaign page's grants over time: cumulative per local date, and the totals formatted."""
    currency = timeline.currency
    return {
        "campaign": timeline.campaign,
        "currency": currency,
        "timezone": timeline.timezone,
        "budget_minor": timeline.budget_minor,
        "days": [
            {
                "date": day.date.isoformat(),
                **{f"{s}_count": c for s, (c, _) in day.running.items()},
                **{f"{s}_minor": a for s, (_, a) in day.running.items()},
            }
            for day in timeline.days
        ],
        "totals": {
            s: {"count": c, "amount": format_minor(a, currency)} for s, (c, a) in timeline.totals.items()
        },
    }
