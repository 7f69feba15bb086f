"""/v1/ledger/verify and /v1/audit: the two hash-chained, append-only logs."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from pledge.domain.audit import ChainedAudit
from pledge.domain.timeutil import format_instant
from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, Limit, StartingAfter, page
from pledge.entrypoints.presenters import ledger_check_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import bad_request
from pledge.usecases.ledger_verify import verify_ledger

router = APIRouter(prefix="/v1", tags=["ledger and audit"], responses=ERROR_RESPONSES)


@router.get(
    "/ledger/verify",
    response_model=models.LedgerVerification,
    summary="Check the ledger's chain, balances, and that the books match grants and budgets",
    openapi_extra=scopes_doc("ledger.read"),
)
def ledger_verify(
    request: Request, _: Annotated[Principal, Depends(require("ledger.read"))]
) -> dict[str, Any]:
    return {"object": "ledger_verification", **ledger_check_json(verify_ledger(context(request).app.uow))}


def audit_json(entry: ChainedAudit) -> dict[str, Any]:
    r = entry.record
    return {
        "object": "audit_entry",
        "id": f"aud_{entry.seq}",
        "seq": entry.seq,
        "at": format_instant(r.at_us),
        "actor": r.actor,
        "api_key_id": r.api_key_id,
        "request_id": r.request_id,
        "action": r.action,
        "subject": r.subject,
        "before": json.loads(r.before),
        "after": json.loads(r.after),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@router.get(
    "/audit",
    response_model=models.AuditList,
    summary="Audit entries of every mutating API call, oldest first",
    openapi_extra=scopes_doc("audit.read"),
)
def audit_list(
    request: Request,
    _: Annotated[Principal, Depends(require("audit.read"))],
    subject: Annotated[str | None, Query(max_length=200, description="e.g. campaign:founders-refund")] = None,
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    after: int | None = None
    if starting_after is not None:
        prefix, _sep, number = starting_after.partition("_")
        if prefix != "aud" or not number.isascii() or not number.isdigit() or len(number) > 18:
            raise bad_request("starting_after: an audit entry id like aud_12", param="starting_after")
        after = int(number)
    entries = context(request).audit_log.audit_page(after, limit + 1, subject)
    return page([audit_json(e) for e in entries], limit, "/v1/audit")


@router.get(
    "/audit/verify",
    response_model=models.AuditVerification,
    summary="Recompute the audit chain; ok is false at any edit, insertion or deletion",
    openapi_extra=scopes_doc("audit.read"),
)
def audit_verify(request: Request, _: Annotated[Principal, Depends(require("audit.read"))]) -> dict[str, Any]:
    return {"object": "audit_verification", **context(request).audit_log.verify_audit()}
