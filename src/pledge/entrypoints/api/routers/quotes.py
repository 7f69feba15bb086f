"""/v1/quotes: what a plan costs an account now, under which terms, and what it renews at."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from pledge.entrypoints.api import billing_models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES
from pledge.entrypoints.presenters import quote_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import bad_request, not_found
from pledge.usecases.quotes import DEFAULT_TIMEZONE, quote_plan

router = APIRouter(prefix="/v1/quotes", tags=["subscriptions"], responses=ERROR_RESPONSES)

AccountQuery = Annotated[
    str | None,
    Query(max_length=128, description="The account; a customer key may leave it out (its own account)."),
]
Timezone = Annotated[
    str,
    Query(
        max_length=64,
        description="IANA zone for calendar months when no offer applies (an offer uses its own).",
    ),
]


def own_account(principal: Principal, account: str | None, param: str = "account") -> str:
    """The account a request acts on: a customer key's own (another is 404), else the one named."""
    own = principal.account_id
    if own is not None:
        if account is not None and account != own:
            raise not_found("account", account, param)
        return own
    if account is None:
        raise bad_request(f"{param}: an account id is required", param=param, code="missing_parameter")
    return account


@router.get(
    "",
    response_model=billing_models.Quote,
    summary="Price a plan for an account now: the best active offer or the list price, with its breakdown",
    openapi_extra=scopes_doc("quotes.read"),
)
def get_quote(
    request: Request,
    principal: Annotated[Principal, Depends(require("quotes.read"))],
    plan: Annotated[str, Query(max_length=64, description="A plan id of the current catalog.")],
    account: AccountQuery = None,
    timezone: Timezone = DEFAULT_TIMEZONE,
) -> dict[str, Any]:
    account_id = own_account(principal, account)
    ctx = context(request)
    return {
        "object": "quote",
        **quote_json(quote_plan(ctx.app.uow, ctx.app.clock, account_id, plan, timezone)),
    }
