"""``pledge campaign report --json``, ``GET /v1/campaigns/{id}/report`` and the console's report:
a :class:`CampaignReport` as JSON, money in major units (CONTRACT.md, docs/openapi.json)."""

from __future__ import annotations

from typing import Any

from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant, zone
from pledge.usecases.report import CampaignReport, ReportVersion


def report_json(report: CampaignReport) -> dict[str, Any]:
    """A cashback campaign's report, or an offer's: each keeps the contract's keys."""
    if report.kind == "offer":
        return _offer_json(report)
    cur = report.currency
    shown: dict[str, Any] = {
        "id": report.id,
        "state": report.state,
        "currency": cur,
        "versions": [_version_json(v) for v in report.versions],
        "budget": _money(report.budget_minor, cur),
        "issued_amount": format_minor(report.issued_minor, cur),
        "claimed_amount": format_minor(report.claimed_minor, cur),
        "expired_amount": format_minor(report.expired_minor, cur),
        "revoked_amount": format_minor(report.revoked_minor, cur),
        "outstanding_amount": format_minor(report.outstanding_minor, cur),
        "budget_remaining": _money(report.budget_remaining_minor, cur),
        "grants": dict(report.grants),
        "paid_amount": format_minor(report.paid_minor, cur),
        "in_transit_amount": format_minor(report.in_transit_minor, cur),
        "failed_amount": format_minor(report.failed_minor, cur),
        "clawbacks": {
            "open": report.open_clawbacks,
            "open_amount": format_minor(report.open_clawback_minor, cur),
        },
    }
    if report.tiers:
        shown["tiers"] = {
            t.id: {
                "grants": t.grants,
                "amount": format_minor(t.amount_minor, cur),
                "claimed_amount": format_minor(t.claimed_minor, cur),
            }
            for t in report.tiers
        }
    return shown


def _offer_json(report: CampaignReport) -> dict[str, Any]:
    """An offer's report: the cashback keys of the contract, true for an offer (no budget, no
    grants), then the subscriptions it sold and the compensation it paid."""
    cur = report.currency
    zero = format_minor(0, cur)
    return {
        "id": report.id,
        "kind": "offer",
        "state": report.state,
        "currency": cur,
        "versions": [_version_json(v) for v in report.versions],
        "budget": None,
        "issued_amount": zero,
        "claimed_amount": zero,
        "expired_amount": zero,
        "paid_amount": zero,
        "in_transit_amount": zero,
        "failed_amount": zero,
        "budget_remaining": None,
        "grants": {},
        "subscriptions": dict(report.subscriptions or {}),
        "compensation": [
            {
                "plan": c.plan,
                "terms": c.terms,
                "days": c.days,
                "days_returned": c.days_returned,
                "money_equivalent": format_minor(c.money_minor, c.currency),
                "currency": c.currency,
            }
            for c in report.compensation
        ],
    }


def _version_json(version: ReportVersion) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "version": version.version,
        "content_hash": version.content_hash,
        "author": version.author,
        "approved_by": version.approved_by,
        "approved": version.approved,
    }
    if version.effective_at_us is not None and version.timezone is not None:
        shown["effective_at"] = format_instant(version.effective_at_us, zone(version.timezone))
    return shown


def _money(minor: int | None, currency: str) -> str | None:
    return None if minor is None else format_minor(minor, currency)
