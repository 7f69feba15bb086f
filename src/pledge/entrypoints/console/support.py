"""Customer service: look an account up, explain it per condition, refund or compensate one customer."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pledge.domain.errors import PledgeError
from pledge.entrypoints.billing_json import refund_json, terms_json
from pledge.entrypoints.console.compensation import start_compensation
from pledge.entrypoints.console.support_reinstate import reinstate_routes
from pledge.entrypoints.console.web import (
    Site,
    Visitor,
    audited,
    read_form,
    redirect,
    refused,
    render,
    visitor,
)
from pledge.entrypoints.console.zones import campaign_zone, customer_zone
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import compensation_json, grants_json
from pledge.entrypoints.web.mutations import raw_body
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.customers import find_customers
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import list_grants
from pledge.usecases.insights import list_campaigns
from pledge.usecases.subscriptions import list_subscriptions, refund_subscription

Body = Annotated[bytes, Depends(raw_body)]
REFUND_KINDS = ("full", "repurchase", "prorated")
SEARCHED_FIELDS = ("account_id", "email", "phone", "wechat_openid", "purchase_id", "serial")


def _account_url(account_id: str) -> str:
    return f"/console/accounts/{quote(account_id, safe='')}"


def compensation_previews(who: Visitor, account_id: str, offers: list[str]) -> list[dict[str, Any]]:
    """What each offer campaign would give this one customer (nothing is changed)."""
    app = who.ctx.app
    previews = []
    for campaign_id in offers:
        try:
            run = compensate_campaign(
                app.uow, app.clock, campaign_id, who.actor, dry_run=True, account_id=account_id
            )
        except PledgeError:  # no newer approved terms: nothing to reconcile for anyone
            continue
        if run.items:
            previews.append(compensation_json(run))
    return previews


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    _lookup(router, site)
    _corrections(router, site)
    reinstate_routes(router, site)
    return router


def _lookup(router: APIRouter, site: Site) -> None:
    """Finding an account, and the account page."""
    app = site.ctx.app

    @router.get("/accounts")
    def search(request: Request, q: str | None = None) -> Response:
        """Exact matches on account id, email, phone, WeChat openid, order number or serial."""
        who = visitor(site, request, customer=False)
        who.require("data.read")
        found = find_customers(app.uow, q) if q and q.strip() else None
        if found is not None and len(found.matches) == 1 and not found.truncated:
            match = found.matches[0]
            fields = ",".join(match.fields)
            target = f"{_account_url(match.account_id)}?matched={quote(fields)}&q={quote(found.query)}"
            return redirect(who, target)
        return render(who, "accounts.html", found=found, account_url=_account_url)

    @router.get("/accounts/{account_id}")
    def account(
        request: Request,
        account_id: str,
        campaign: str | None = None,
        matched: str | None = None,
        q: str | None = None,
    ) -> Response:
        who = visitor(site, request, customer=False)
        who.require("data.read")
        record, purchases = site.ctx.store.account(account_id)
        if record is None:
            raise refused(who.t("account_not_found", account=account_id), 404, "account_not_found")
        all_campaigns = list_campaigns(app.uow)
        cashback = [c.id for c in all_campaigns if c.kind == "cashback"]
        offers = [c.id for c in all_campaigns if c.kind == "offer"]
        chosen = campaign if campaign in cashback else (cashback[0] if cashback else None)
        explanation = None
        if chosen and who.may("eligibility.read"):
            explanation = explanation_json(explain_account(app.uow, app.rules, account_id, chosen))
        grants = (
            grants_json(list_grants(app.uow, account_id=account_id, limit=100))
            if who.may("grants.read")
            else None
        )
        terms = (
            terms_json(list_subscriptions(app.uow, account_id=account_id))
            if who.may("subscriptions.read")
            else None
        )
        previews = compensation_previews(who, account_id, offers) if who.may("compensation.preview") else []
        return render(
            who,
            "account.html",
            account=record,
            purchases=purchases[:100],
            purchase_count=len(purchases),
            cashback=cashback,
            chosen=chosen,
            explanation=explanation,
            grants=grants,
            terms=terms,
            previews=previews,
            account_url=_account_url(account_id),
            matched=[f for f in (matched or "").split(",") if f in SEARCHED_FIELDS],
            search=q or "",
            tz=customer_zone(record, campaign_zone(app.uow, chosen)),
        )


def _corrections(router: APIRouter, site: Site) -> None:
    """Refunding a term and compensating one customer, each confirmed first."""
    app = site.ctx.app

    @router.get("/subscriptions/{term_id}/refund")
    def refund_page(request: Request, term_id: str) -> Response:
        who = visitor(site, request, customer=False)
        who.require("subscriptions.refund")
        term = site.ctx.subjects.term(term_id)
        if term is None:
            raise refused(who.t("not_found"), 404, "not_found")
        record, _ = site.ctx.store.account(term["account_id"])
        return render(
            who,
            "refund.html",
            term=term,
            back=_account_url(term["account_id"]),
            kinds=REFUND_KINDS,
            tz=customer_zone(record, campaign_zone(app.uow, term.get("campaign"))),
        )

    @router.post("/subscriptions/{term_id}/refund")
    def refund(request: Request, term_id: str, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "kind", "confirm")
        who.require("subscriptions.refund")
        kind = form.get("kind", "full")
        if kind not in REFUND_KINDS:
            raise refused(who.t("refund_kind_unknown"), 400, "invalid_refund")
        if form.get("confirm") != "yes":
            raise refused(who.t("confirm_required"), 400, "confirm_required")
        done = audited(
            who,
            "subscription.refund",
            f"subscription:{term_id}",
            lambda uow: {
                "object": "subscription_refund",
                **refund_json(
                    refund_subscription(
                        uow, app.clock, term_id, repurchase=kind == "repurchase", prorated=kind == "prorated"
                    )
                ),
            },
        )
        account_id = done["subscription"]["account_id"]
        message = who.t(
            "refund_done",
            refunded=who.money(done["refunded"], done["currency"]),
            charged=who.money(done["charged"], done["currency"]),
            net=who.money(done["net_refund"], done["currency"]),
        )
        return redirect(who, _account_url(account_id), ("ok", message))

    @router.post("/accounts/{account_id}/compensate")
    def compensate_one(request: Request, account_id: str, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "campaign", "confirm")
        who.require("compensation.apply_one")
        if form.get("confirm") != "yes":
            raise refused(who.t("confirm_required"), 400, "confirm_required")
        campaign_id = form.get("campaign", "")
        job = start_compensation(who, campaign_id, account_id)
        return redirect(who, f"/console/jobs/{job}?back={quote(_account_url(account_id), safe='')}")
