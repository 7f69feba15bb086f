"""Claims, serial imports and reinstatements as JSON: ``pledge claims|import serials|grants
reinstate --json``, the API's ``/v1/claims`` and ``/v1/grants/{id}/reinstate`` and the console's
claim pages (ADR 28). Amounts are formatted here from integer minor units."""

from __future__ import annotations

from typing import Any

from pledge.domain.claims import Claim, ClaimState
from pledge.domain.money import format_minor
from pledge.usecases.claims import ClaimDecision, claim_json
from pledge.usecases.common import Page
from pledge.usecases.grants import grant_json
from pledge.usecases.reinstate import Reinstatement
from pledge.usecases.serials import SerialImport


def claims_json(page: Page[Claim]) -> dict[str, Any]:
    """``pledge claims list --json`` and ``GET /v1/claims`` (which adds its ``url``)."""
    return {"object": "list", "data": [claim_json(c) for c in page.rows], "has_more": page.has_more}


def decision_json(decision: ClaimDecision) -> dict[str, Any]:
    """A decided claim; an approved one also shows its grant (null: no envelope was left for it)."""
    shown = claim_json(decision.claim)
    if decision.claim.state is ClaimState.APPROVED:
        shown["grant"] = None if decision.grant is None else grant_json(decision.grant)
    return shown


def serial_import_json(result: SerialImport) -> dict[str, Any]:
    """``pledge import serials --json``."""
    return {"imported": result.imported, "unchanged": result.unchanged}


def reinstatement_json(result: Reinstatement) -> dict[str, Any]:
    """The grant; while a second person is awaited, what the first one is told beside it."""
    grant = result.grant
    if result.pending is None:
        return grant_json(grant)
    above = format_minor(result.pending.review_above_minor, grant.currency)
    pending = {
        "state": "pending_second_approval",
        "approved_by": list(result.pending.approved_by),
        "review_above": above,
        "message": f"{format_minor(grant.amount_minor, grant.currency)} {grant.currency} is above "
        f"{above}: a second, different person re-opens it",
    }
    return {**grant_json(grant), "reinstatement": pending}
