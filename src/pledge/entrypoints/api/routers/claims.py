"""/v1/claims: a purchase missing from the records, claimed with evidence files (ADR 28).

``POST /v1/claims`` takes ``multipart/form-data``: the text fields below and up to five files in
``evidence``. A customer key claims for its own account (``account`` may be left out); staff with
``claims.submit`` name the account. The body is bounded by the server (``claim_body_limit``), the
parts here, every file is checked by the use case before anything is stored, and the call is
idempotent (``Idempotency-Key``, the raw body's hash) and audited like every POST. Reviewers list,
read and decide claims; a customer reads only their own, and their own evidence files.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from pledge.domain.claims import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_FILES
from pledge.domain.errors import InputError
from pledge.domain.schemas import UNKNOWN_FIELD, unknown_field_message
from pledge.entrypoints.api.models import ListBase, Open
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, Limit, StartingAfter
from pledge.entrypoints.claims_json import claims_json, decision_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.bodies import StrictBody
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import not_found
from pledge.entrypoints.web.evidence import evidence_response
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.mutations import Call, IdempotencyHeader, make_call, mutation
from pledge.usecases.claims import ClaimRequest, claim_json

router = APIRouter(prefix="/v1/claims", tags=["claims"], responses=ERROR_RESPONSES)

ClaimId = Annotated[str, Path(max_length=40, description="A claim id (clm_…).")]
FIELDS = ("campaign", "account", "serial", "purchased_at", "price")
MAX_TEXT_PART_BYTES = 16 * 1024


class Claim(Open):
    object: Literal["claim"] = "claim"
    id: str
    campaign: str
    account_id: str
    serial: str
    state: str = Field(description="pending, approved or rejected (by a person, or by the system).")
    checks: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    reason: str | None


class ClaimList(ListBase):
    data: list[Claim]


class Decision(StrictBody):
    approve: bool = Field(description="true approves (two persons above review_above), false rejects.")
    reason: str = Field(max_length=40, description="A reason code, like receipt_verified.")


async def _multipart(request: Request) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The claim's text fields and evidence files; an unknown part is refused, never ignored."""
    try:
        form = await request.form(
            max_files=MAX_EVIDENCE_FILES, max_fields=len(FIELDS) + 2, max_part_size=MAX_TEXT_PART_BYTES
        )
    except MultiPartException as exc:
        raise InputError(f"body: {exc.message}", param="evidence", code="invalid_upload") from None
    texts: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile) and name == "evidence":
                if (value.size or 0) > MAX_EVIDENCE_BYTES:
                    raise InputError(
                        f"evidence {value.filename}: is {value.size:,} bytes; at most "
                        f"{MAX_EVIDENCE_BYTES:,} are taken",
                        param="evidence",
                        code="evidence_too_large",
                    )
                files.append((value.filename or "evidence", await value.read(MAX_EVIDENCE_BYTES + 1)))
            elif isinstance(value, str) and name in FIELDS:
                texts[name] = check_text(value, name, max_length=200)
            else:
                message = unknown_field_message(name, name, (*FIELDS, "evidence"), "form field")
                raise InputError(message, param=name, code=UNKNOWN_FIELD)
    finally:
        await form.close()
    return texts, files


def _digest(texts: dict[str, str], files: list[tuple[str, bytes]]) -> str:
    """What the request says, independent of its multipart encoding (a client's retry draws a new
    boundary): the text fields, and each file's name and content hash, in order."""
    said = {"fields": texts, "files": [[name, hashlib.sha256(data).hexdigest()] for name, data in files]}
    return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()


@router.post(
    "",
    response_model=Claim,
    status_code=201,
    summary="Claim a purchase missing from the records, with evidence files (multipart/form-data)",
    openapi_extra={
        **scopes_doc("claims.submit"),
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["campaign", "serial", "purchased_at", "price"],
                        "properties": {
                            "campaign": {"type": "string"},
                            "account": {"type": "string", "description": "Staff keys; a customer's own."},
                            "serial": {"type": "string"},
                            "purchased_at": {"type": "string", "description": "ISO 8601 with offset."},
                            "price": {"type": "string", "description": "Decimal, the campaign's currency."},
                            "evidence": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                    }
                }
            },
        },
    },
)
async def submit(
    request: Request,
    principal: Annotated[Principal, Depends(require("claims.submit"))],
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    texts, files = await _multipart(request)
    call = make_call(request, principal, idempotency_key, _digest(texts, files))
    ctx = call.ctx
    account = texts.get("account") or principal.account_id or ""
    if principal.account_id is not None and account != principal.account_id:
        raise not_found("account", account, "account")  # a customer claims for themselves only
    ctx.limiter.check_each(
        "claim_submit",
        [
            (principal.key_id, ctx.settings.rate_per_key),
            (f"account {account}", ctx.settings.rate_per_account),
        ],
    )
    claim = ClaimRequest(
        texts.get("campaign", ""),
        account,
        texts.get("serial", ""),
        texts.get("purchased_at", ""),
        texts.get("price", ""),
        files,
    )
    return await run_in_threadpool(
        call.run,
        "claim.submit",
        f"account:{account}",
        lambda uow: claim_json(ctx.app.claim_desk(uow).submit(claim, principal.actor)),
        Claim,
        201,
    )


@router.get(
    "",
    response_model=ClaimList,
    summary="Claims, oldest first (the review queue); a customer key sees its own",
    openapi_extra=scopes_doc("claims.read"),
)
def list_(
    request: Request,
    principal: Annotated[Principal, Depends(require("claims.read"))],
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    desk = context(request).app.claim_desk()
    page = desk.list(
        campaign_id=campaign,
        state=state,
        starting_after=starting_after,
        limit=limit,
        account_id=principal.account_id,  # a customer key: its own claims only
    )
    return {**claims_json(page), "url": "/v1/claims"}


@router.get(
    "/{claim_id}",
    response_model=Claim,
    summary="One claim: its checks, flags, evidence and decision",
    openapi_extra=scopes_doc("claims.read"),
)
def get(
    request: Request,
    claim_id: ClaimId,
    principal: Annotated[Principal, Depends(require("claims.read"))],
) -> dict[str, Any]:
    return claim_json(context(request).app.claim_desk().get(claim_id, account_id=principal.account_id))


@router.post(
    "/{claim_id}/decision",
    response_model=Claim,
    summary="Approve or reject a claim with a reason code (four-eyes above review_above)",
    openapi_extra=scopes_doc("claims.decide"),
)
def decide(
    claim_id: ClaimId, params: Decision, call: Annotated[Call, Depends(mutation("claims.decide"))]
) -> Response:
    actor = call.principal.actor
    return call.run(
        "claim.decide",
        f"claim:{claim_id}",
        lambda uow: decision_json(
            call.ctx.app.claim_desk(uow).decide(
                claim_id, approve=params.approve, reason=params.reason, actor=actor
            )
        ),
        Claim,
    )


@router.get(
    "/{claim_id}/evidence/{sha256}",
    summary="One evidence file of a claim, for its reviewers and its owner",
    openapi_extra=scopes_doc("claims.read"),
    response_class=Response,
)
def evidence(
    request: Request,
    claim_id: ClaimId,
    sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    principal: Annotated[Principal, Depends(require("claims.read"))],
) -> Response:
    kind, content = (
        context(request).app.claim_desk().evidence(claim_id, sha256, account_id=principal.account_id)
    )
    return evidence_response(kind, content, f"{claim_id}-{sha256[:12]}")
