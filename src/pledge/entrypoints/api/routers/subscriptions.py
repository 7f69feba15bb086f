"""/v1/subscriptions: buy at the quoted terms, list, one term, auto-renew consent, refund, renew due terms.

A customer key acts on its own account only: another account's term is 404,
as if it did not exist. Support buys, records consent and refunds on a
customer's behalf (the audit entry and the consent name the support key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictBool

from pledge.adapters.webhooks.uow import NEW_TERM_SUBJECT
from pledge.domain.errors import InputError
from pledge.entrypoints.api import billing_models, models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, Limit, StartingAfter
from pledge.entrypoints.api.routers.quotes import own_account
from pledge.entrypoints.billing_json import refund_json, terms_json
from pledge.entrypoints.presenters import renewal_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.bodies import StrictBody
from pledge.entrypoints.web.context import ApiContext, context
from pledge.entrypoints.web.errors import not_found
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.jobs import job_json
from pledge.entrypoints.web.mutations import Call, UowFactory, finish_audit, mutation
from pledge.usecases.quotes import DEFAULT_TIMEZONE
from pledge.usecases.subscriptions import (
    buy_subscription,
    consented_term_json,
    list_subscriptions,
    refund_subscription,
    renew_due,
    set_term_auto_renew,
    term_json,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"], responses=ERROR_RESPONSES)

TermId = Annotated[str, Path(max_length=40, description="A subscription term id (sub_…).")]


def visible_term(ctx: ApiContext, term_id: str, principal: Principal) -> dict[str, Any]:
    """The term with its consents, if this key may see it; 404 otherwise (customer keys: own account only)."""
    term = ctx.subjects.term(term_id)
    if term is None or not principal.may_see(term["account_id"]):
        raise not_found("term", term_id, "term_id")
    return term


class BuyParams(StrictBody):
    account: str | None = Field(
        default=None, max_length=128, description="The buyer; a customer key may leave it out (its own)."
    )
    plan: str = Field(max_length=64, description="A plan id of the current catalog.")
    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        max_length=64,
        description="IANA zone for calendar months when no offer applies (an offer uses its own).",
    )


@router.post(
    "",
    response_model=billing_models.SubscriptionTerm,
    summary="Buy a plan at the terms a quote gives now (auto-renew off); retry with the same Idempotency-Key",
    openapi_extra=scopes_doc("subscriptions.buy"),
)
def buy(params: BuyParams, call: Annotated[Call, Depends(mutation("subscriptions.buy"))]) -> Response:
    for name in ("account", "plan", "timezone"):
        value = getattr(params, name)
        if value is not None:
            check_text(value, name)
    account_id = own_account(call.principal, params.account)
    ctx, app = call.ctx, call.ctx.app

    def execute() -> tuple[int, dict[str, Any]]:
        audit = call.audit("subscription.buy", NEW_TERM_SUBJECT)
        result = buy_subscription(call.factory(audit), app.clock, account_id, params.plan, params.timezone)
        if not audit.written:  # the term existed already (a retried purchase): nothing was committed
            audit.subject = f"subscription:{result.id}"
        finish_audit(ctx, audit)
        shown = term_json(result)
        return 200, billing_models.SubscriptionTerm.model_validate(shown).model_dump(mode="json")

    return call.respond(execute)


@router.get(
    "",
    response_model=billing_models.SubscriptionList,
    summary="Subscription terms, oldest id first (a renewal is its own term); customer keys see their own",
    openapi_extra=scopes_doc("subscriptions.read"),
)
def list_(
    request: Request,
    principal: Annotated[Principal, Depends(require("subscriptions.read"))],
    account: Annotated[str | None, Query(max_length=128)] = None,
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    own = principal.account_id
    if own is not None:
        if account is not None and account != own:
            raise not_found("account", account, "account")
        account = own
    result = list_subscriptions(
        context(request).app.uow, account_id=account, starting_after=starting_after, limit=limit
    )
    return {**terms_json(result), "url": "/v1/subscriptions"}


@router.get(
    "/{term_id}",
    response_model=billing_models.SubscriptionTerm,
    summary="One subscription term, with its auto-renew consent history",
    openapi_extra=scopes_doc("subscriptions.read"),
)
def get(
    request: Request,
    term_id: TermId,
    principal: Annotated[Principal, Depends(require("subscriptions.read"))],
) -> dict[str, Any]:
    return visible_term(context(request), term_id, principal)


class AutoRenewParams(StrictBody):
    on: StrictBool = Field(description="true: renew at list price when the term ends; false: let it lapse.")


@router.post(
    "/{term_id}/auto_renew",
    response_model=billing_models.SubscriptionTerm,
    summary="Record the customer's auto-renew choice: who (the key), when, and the exact wording shown",
    openapi_extra=scopes_doc("subscriptions.auto_renew"),
)
def auto_renew(
    term_id: TermId,
    params: AutoRenewParams,
    call: Annotated[Call, Depends(mutation("subscriptions.auto_renew"))],
) -> Response:
    visible_term(call.ctx, term_id, call.principal)
    app = call.ctx.app
    return call.run(
        "subscription.auto_renew",
        f"subscription:{term_id}",
        lambda uow: consented_term_json(
            set_term_auto_renew(uow, app.clock, term_id, params.on, call.principal.actor)
        ),
        billing_models.SubscriptionTerm,
    )


class RefundParams(StrictBody):
    repurchase: StrictBool = Field(
        default=False, description="Refund in full and rebuy at the terms now in effect, from the same start."
    )
    prorated: StrictBool = Field(default=False, description="Refund only the unused share (half-even).")


@router.post(
    "/{term_id}/refund",
    response_model=billing_models.SubscriptionRefund,
    summary="Refund a term (in full, or its unused share); with repurchase, rebuy it at the current terms",
    openapi_extra=scopes_doc("subscriptions.refund"),
)
def refund(
    term_id: TermId,
    call: Annotated[Call, Depends(mutation("subscriptions.refund"))],
    params: Annotated[RefundParams | None, Body()] = None,
) -> Response:
    p = params or RefundParams()
    if p.repurchase and p.prorated:
        raise InputError("repurchase refunds in full; do not combine it with prorated", param="prorated")
    visible_term(call.ctx, term_id, call.principal)
    app = call.ctx.app

    def fn(uow: UowFactory) -> dict[str, Any]:
        result = refund_subscription(uow, app.clock, term_id, repurchase=p.repurchase, prorated=p.prorated)
        return {"object": "subscription_refund", **refund_json(result)}

    return call.run("subscription.refund", f"subscription:{term_id}", fn, billing_models.SubscriptionRefund)


@router.post(
    "/renew_due",
    response_model=models.Job,
    status_code=202,
    summary="Renew opted-in terms that have ended at list price, lapse the rest (a job)",
    openapi_extra=scopes_doc("subscriptions.renew"),
)
def renew(call: Annotated[Call, Depends(mutation("subscriptions.renew"))]) -> Response:
    app = call.ctx.app

    def execute() -> tuple[int, dict[str, Any]]:
        audit = call.audit("subscriptions.renew_due", "subscriptions:due")

        def work(uow: UowFactory, _progress: Callable[[int], None]) -> dict[str, Any]:
            return {"object": "renewal_run", **renewal_json(renew_due(uow, app.clock))}

        return 202, job_json(call.start_job("subscriptions.renew_due", audit, work))

    return call.respond(execute)
