"""What an audited subject looks like now: the "before" and "after" of an audit entry."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from pledge.adapters.sqlalchemy.api_tables import webhook_endpoints
from pledge.adapters.sqlalchemy.claims import SqlClaims
from pledge.adapters.sqlalchemy.repositories import SqlBudgets, SqlCampaigns, SqlGrants
from pledge.domain.money import format_minor
from pledge.usecases.claims import claim_json
from pledge.usecases.grants import grant_json


def campaign_snapshot(conn: Connection, campaign_id: str) -> dict[str, Any] | None:
    """The campaign as audit entries and ``campaign.updated`` events show it."""
    record = SqlCampaigns(conn).get(campaign_id)
    if record is None:
        return None
    versions = SqlCampaigns(conn).versions(campaign_id)
    budget = SqlBudgets(conn).get(campaign_id)
    return {
        "id": campaign_id,
        "object": "campaign",
        "state": record.state.value,
        "currency": record.currency,
        "versions": [
            {"version": v.version, "content_hash": v.content_hash, "author": v.author}
            | {"approved_by": v.approved_by, "approved": v.approved}
            for v in versions
        ],
        "budget_remaining": None if budget is None else format_minor(budget.remaining_minor, budget.currency),
    }


def snapshot(conn: Connection, subject: str) -> dict[str, Any]:
    """State of an audited subject (``kind:id``); {} for subjects without one (bulk operations)."""
    kind, _, ident = subject.partition(":")
    if kind == "campaign":
        return campaign_snapshot(conn, ident) or {}
    if kind == "grant":
        grant = SqlGrants(conn).get(ident)
        return grant_json(grant) if grant else {}
    if kind == "claim":  # a decision's before and after: state, approvals, who decided
        claim = SqlClaims(conn).get(ident)
        return claim_json(claim) if claim else {}
    if kind == "webhook_endpoint":
        w = webhook_endpoints.c
        row = conn.execute(
            select(w.endpoint_id, w.url, w.events, w.enabled).where(w.endpoint_id == ident)
        ).first()
        return {"id": row[0], "url": row[1], "events": json.loads(row[2]), "enabled": row[3]} if row else {}
    return {}
