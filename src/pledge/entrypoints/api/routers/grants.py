"""/v1/grants: list (cursor), one, claim (open a red envelope), expire, revoke, reinstate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, Limit, StartingAfter
from pledge.entrypoints.claims_json import reinstatement_json
from pledge.entrypoints.presenters import expiry_json, grants_json, revoked_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.bodies import StrictBody
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import not_found
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.mutations import Call, mutation
from pledge.usecases.corrections import revoke_grant
from pledge.usecases.grants import claim_grant, expire_grants, grant_json, list_grants
from pledge.usecases.reinstate import reinstate_grant

router = APIRouter(prefix="/v1/grants", tags=["grants"], responses=ERROR_RESPONSES)

GrantId = Annotated[str, Path(max_length=40, description="A grant id (gr_…).")]


@router.get(
    "",
    response_model=models.GrantList,
    summary="List grants, oldest id first; customer keys see their own only",
    openapi_extra=scopes_doc("grants.read"),
)
def list_(
    request: Request,
    principal: Annotated[Principal, Depends(require("grants.read"))],
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    account: Annotated[str | None, Query(max_length=128)] = None,
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    own = principal.account_id
    if own is not None:
        if account is not None and account != own:
            raise not_found("account", account, "account")
        account = own
    result = list_grants(
        context(request).app.uow,
        campaign_id=campaign,
        account_id=account,
        starting_after=starting_after,
        limit=limit,
    )
    return {**grants_json(result), "url": "/v1/grants"}


def _visible(request: Request, grant_id: str, principal: Principal) -> dict[str, Any]:
    grant = context(request).store.grant(grant_id)
    if grant is None or not principal.may_see(grant.account_id):
        raise not_found("grant", grant_id, "grant_id")
    return grant_json(grant)


@router.get(
    "/{grant_id}",
    response_model=models.Grant,
    summary="One grant",
    openapi_extra=scopes_doc("grants.read"),
)
def get(
    request: Request, grant_id: GrantId, principal: Annotated[Principal, Depends(require("grants.read"))]
) -> dict[str, Any]:
    return _visible(request, grant_id, principal)


@router.post(
    "/{grant_id}/claim",
    response_model=models.Grant,
    summary="Open a red envelope; repeating returns the same grant",
    openapi_extra=scopes_doc("grants.claim"),
)
def claim(
    grant_id: GrantId,
    call: Annotated[Call, Depends(mutation("grants.claim"))],
) -> Response:
    ctx, principal = call.ctx, call.principal
    limits = [(principal.key_id, ctx.settings.rate_per_key)]
    if principal.account_id is not None:  # claims are a customer's: whose grant it is, the use case says
        limits.append((f"account {principal.account_id}", ctx.settings.rate_per_account))
    ctx.limiter.check_each("claim", limits)
    return call.run(
        "grant.claim",
        f"grant:{grant_id}",
        lambda uow: grant_json(claim_grant(uow, ctx.app.clock, grant_id, account_id=principal.account_id)),
        models.Grant,
    )


@router.post(
    "/expire",
    response_model=models.Expired,
    summary="Expire unopened grants past their claim window (value returns to the budget)",
    openapi_extra=scopes_doc("grants.expire"),
)
def expire(call: Annotated[Call, Depends(mutation("grants.expire"))]) -> Response:
    return call.run(
        "grants.expire",
        "grants:all",
        lambda uow: {"object": "grant_expiry", **expiry_json(expire_grants(uow, call.ctx.app.clock))},
        models.Expired,
    )


class RevokeParams(StrictBody):
    reason: str = Field(max_length=200, description="Why: recorded on the grant and shown to the customer.")


@router.post(
    "/{grant_id}/revoke",
    response_model=models.Grant,
    summary="Revoke an unopened grant (value returns to the budget); repeating returns the same grant",
    openapi_extra=scopes_doc("grants.revoke"),
)
def revoke(
    request: Request,
    grant_id: GrantId,
    params: RevokeParams,
    call: Annotated[Call, Depends(mutation("grants.revoke"))],
) -> Response:
    check_text(params.reason, "reason")
    _visible(request, grant_id, call.principal)
    actor = call.principal.actor
    return call.run(
        "grant.revoke",
        f"grant:{grant_id}",
        lambda uow: revoked_json(revoke_grant(uow, call.ctx.app.clock, grant_id, params.reason, actor)),
        models.Grant,
    )


class ReinstateParams(StrictBody):
    reason: str = Field(max_length=200, description="Why: recorded in the campaign's audit trail.")


@router.post(
    "/{grant_id}/reinstate",
    response_model=models.Grant,
    summary="Re-open an expired grant for a fresh claim window (value back from the budget); above the "
    "campaign's payout.reinstate_review_above the first person's call is a pending approval (the grant "
    "stays expired, `reinstatement` says so) and a different person's call re-opens it",
    openapi_extra=scopes_doc("grants.reinstate"),
)
def reinstate(
    request: Request,
    grant_id: GrantId,
    params: ReinstateParams,
    call: Annotated[Call, Depends(mutation("grants.reinstate"))],
) -> Response:
    check_text(params.reason, "reason")
    _visible(request, grant_id, call.principal)
    actor = call.principal.actor
    return call.run(
        "grant.reinstate",
        f"grant:{grant_id}",
        lambda uow: reinstatement_json(
            reinstate_grant(uow, call.ctx.app.clock, grant_id, params.reason, actor)
        ),
        models.Grant,
    )
