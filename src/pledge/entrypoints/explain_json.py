"""``explain``, why a purchase has no grant, and the console's campaign views, as JSON.

The CLI (``--json`` and the human lines), the API (``/v1/accounts/{id}/eligibility``) and the
console's pages (campaign list and detail, support's account page, a customer's ``/me``) all read
these views, so what each shows is the same.
"""

from __future__ import annotations

from typing import Any

from pledge.domain.timeutil import format_instant
from pledge.usecases.insights import CampaignDetail, CampaignSummary


def campaign_summary_json(summary: CampaignSummary) -> dict[str, Any]:
    """A row of the console's campaign list: the campaign's report with its kind and name."""
    return {**summary.report, "kind": summary.kind, "name": summary.name}


def campaign_detail_json(detail: CampaignDetail) -> dict[str, Any]:
    """The console's campaign page: every terms version with its approval, and the history."""
    return {
        "id": detail.id,
        "kind": detail.kind,
        "state": detail.state.value,
        "currency": detail.currency,
        "launched": detail.launched,
        "versions": [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "author": v.author,
                "created_at": format_instant(v.created_at_us),
                "approved_by": v.approved_by,
                "approved_at": None if v.approved_at_us is None else format_instant(v.approved_at_us),
                "approved": v.approved,
                "document": dict(v.document),
            }
            for v in detail.versions
        ],
        "events": [
            {"kind": e.kind, "actor": e.actor, "at": format_instant(e.at_us), "detail": e.detail}
            for e in detail.events
        ],
    }
