"""The customer page: "Am I eligible, and why?" and "Open my red envelope", for one account only.

A customer signs in with a customer key (bound to one account). Every read and
every action here takes the account from that key, never from the URL or the
form, and a grant of another account is answered 404, as by the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pledge.domain.corrections import CORRECTION_REASONS
from pledge.domain.errors import NotFoundError
from pledge.entrypoints.console.claims import my_claims
from pledge.entrypoints.console.web import (
    Site,
    Visitor,
    audited,
    customer_account,
    read_form,
    redirect,
    refused,
    render,
    visitor,
)
from pledge.entrypoints.console.zones import campaign_zone, customer_zone
from pledge.entrypoints.explain_json import campaign_summary_json, explanation_json
from pledge.entrypoints.web.mutations import raw_body
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant, grant_json, list_grants
from pledge.usecases.insights import list_campaigns
from pledge.usecases.notify_unsubscribe import inapp_messages
from pledge.usecases.payout_listing import list_payouts, payout_json

Body = Annotated[bytes, Depends(raw_body)]
VISIBLE_STATES = ("active", "paused")
# Plain words for the fields a condition tests, most specific first.
FIELD_WORDS = (
    ("purchase.sku", "cond_product"),
    ("account.region", "cond_region"),
    ("purchase.status", "cond_status"),
    ("purchase.currency", "cond_currency"),
    ("purchase.price", "cond_price"),
    ("purchase.channel", "cond_channel"),
)


def plain_condition(who: Visitor, name: str) -> str:
    if name == "purchased":
        return who.t("cond_window")
    for field, key in FIELD_WORDS:
        if field in name:
            return who.t(key)
    return who.t("cond_other")


def eligibility(who: Visitor, account_id: str) -> list[dict[str, Any]]:
    app = who.ctx.app
    out = []
    for summary in list_campaigns(app.uow):
        campaign = campaign_summary_json(summary)
        if campaign["kind"] != "cashback" or campaign["state"] not in VISIBLE_STATES:
            continue
        explained = explanation_json(explain_account(app.uow, app.rules, account_id, campaign["id"]))
        for purchase in explained["purchases"]:
            for condition in purchase["conditions"]:
                condition["plain"] = plain_condition(who, condition["name"])
        out.append({"campaign": campaign, "explained": explained})
    return out


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/")
    def home(request: Request) -> Response:
        who = visitor(site, request, customer=True)
        who.require("eligibility.read")
        account_id = customer_account(who)
        record, _ = site.ctx.store.account(account_id)
        grants = [grant_json(g) for g in list_grants(app.uow, account_id=account_id, limit=100).rows]
        for grant in grants:  # a revocation's reason: a known code in the reader's words, or support's text
            reason = grant["revoked_reason"]
            grant["reason_text"] = who.t(f"revoked_{reason}") if reason in CORRECTION_REASONS else reason
            # A rail that waits for the customer (WeChat's confirmation): they must act, so they are told.
            waiting = (
                []
                if grant["state"] != "paying"
                else [
                    payout_json(t)
                    for t in list_payouts(app.uow, grant_id=grant["id"], state="waiting_user", limit=20).rows
                ]
            )
            grant["waiting"] = waiting
        campaigns = eligibility(who, account_id) if record is not None else []
        shown = [c["campaign"]["id"] for c in campaigns] + [g["campaign"] for g in grants]
        return render(
            who,
            "me.html",
            account_id=account_id,
            known=record is not None,
            campaigns=campaigns,
            grants=grants,
            inbox=inapp_messages(app.uow, account_id),
            tz=customer_zone(record, campaign_zone(app.uow, shown[0] if shown else None)),
            **my_claims(who, account_id),
        )

    @router.post("/grants/{grant_id}/claim")
    def claim(request: Request, grant_id: str, body: Body) -> Response:
        who = visitor(site, request, customer=True)
        read_form(who, body)
        principal = who.require("grants.claim")
        account_id = customer_account(who)
        ctx = site.ctx
        ctx.limiter.check_each(
            "claim",
            [
                (principal.key_id, ctx.settings.rate_per_key),
                (f"account {account_id}", ctx.settings.rate_per_account),
            ],
        )
        try:  # the use case answers another account's grant as if it did not exist
            opened = audited(
                who,
                "grant.claim",
                f"grant:{grant_id}",
                lambda uow: claim_grant(uow, app.clock, grant_id, account_id=account_id),
            )
        except NotFoundError as exc:
            raise refused(who.t("grant_not_found"), 404, "grant_not_found") from exc
        shown = grant_json(opened)
        message = who.t("claimed_done", amount=who.money(shown["amount"], shown["currency"]))
        return redirect(who, f"/me/#grant-{grant_id}", ("ok", message))

    return router
