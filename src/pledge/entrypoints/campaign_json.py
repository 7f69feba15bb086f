"""A campaign's life as JSON: ``pledge campaign apply|approve|launch|pause|resume|close --json``,
the API's ``/v1/campaigns`` actions and the console's notices (their translation parameters).

``presenters.json_view`` finds these for the typed results; amounts are formatted here.
"""

from __future__ import annotations

from typing import Any

from pledge.usecases.campaigns import AppliedTerms, ApprovedTerms, LaunchedCampaign, StateChange


def applied_json(applied: AppliedTerms) -> dict[str, Any]:
    """``pledge campaign apply --json`` and ``POST /v1/campaigns``."""
    return {
        "id": applied.campaign_id,
        "version": applied.version,
        "changed": applied.changed,
        "content_hash": applied.content_hash,
    }


def approval_json(approved: ApprovedTerms) -> dict[str, Any]:
    """``pledge campaign approve --json`` and ``POST /v1/campaigns/{id}/approve``; ``group`` and
    ``stacking`` only for cashback terms."""
    shown: dict[str, Any] = {
        "id": approved.campaign_id,
        "version": approved.version,
        "approved_by": approved.approved_by,
        "content_hash": approved.content_hash,
        "state": approved.state.value,
    }
    if approved.group is not None and approved.stacking is not None:
        shown.update(group=approved.group, stacking=approved.stacking.value)
    return shown


def launched_json(launched: LaunchedCampaign) -> dict[str, Any]:
    """``pledge campaign launch --json`` and ``POST /v1/campaigns/{id}/launch``; the accepted
    shortfall only when the launch accepted one."""
    shown: dict[str, Any] = {
        "id": launched.campaign_id,
        "state": launched.state.value,
        "version": launched.version,
    }
    if launched.accepted_shortfall is not None:
        shown["accepted_shortfall"] = launched.accepted_shortfall.as_json(launched.currency)
    return shown


def state_change_json(change: StateChange) -> dict[str, Any]:
    """``pledge campaign pause|resume|close --json`` and their ``POST /v1/campaigns/{id}/...``."""
    return {"id": change.campaign_id, "state": change.state.value}
