"""An offer campaign's compensation: the dry run with totals per plan, then apply it (a job)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pledge.domain.errors import PledgeError
from pledge.domain.offers import CompensationPolicy
from pledge.entrypoints.console.campaigns import allowed_actions
from pledge.entrypoints.console.web import Site, Visitor, read_form, redirect, refused, render, visitor
from pledge.entrypoints.explain_json import campaign_detail_json
from pledge.entrypoints.presenters import compensation_json
from pledge.entrypoints.web.mutations import Call, UowFactory, raw_body, request_id
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.insights import campaign_detail

Body = Annotated[bytes, Depends(raw_body)]
POLICIES = tuple(p.value for p in CompensationPolicy)
SHOWN = 200


def start_compensation(
    who: Visitor, campaign_id: str, account_id: str | None, policy: str | None = None
) -> str:
    """Apply compensation as a job, audited like the API's; the whole campaign or one customer."""
    principal = who.require("compensation.apply" if account_id is None else "compensation.apply_one")
    ctx, app = who.ctx, who.ctx.app
    chosen = CompensationPolicy(policy) if policy in POLICIES else None
    call = Call(ctx, principal, request_id(who.request), None, "")
    extra: dict[str, Any] = {"policy": policy if chosen else None}
    if account_id is not None:
        extra["account_id"] = account_id
    audit = call.audit("campaign.compensate", f"campaign:{campaign_id}", **extra)

    def work(uow: UowFactory, progress: Callable[[int], None]) -> dict[str, Any]:
        result = compensate_campaign(
            uow,
            app.clock,
            campaign_id,
            principal.actor,
            dry_run=False,
            policy=chosen,
            progress=progress,
            account_id=account_id,
        )
        return {"object": "compensation_run", **compensation_json(result)}

    return call.start_job("campaign.compensate", audit, work).job_id


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/campaigns/{campaign_id}/compensation")
    def preview(request: Request, campaign_id: str, policy: str | None = None) -> Response:
        who = visitor(site, request, customer=False)
        who.require("compensation.preview")
        detail = campaign_detail_json(campaign_detail(app.uow, campaign_id))
        if detail["kind"] != "offer":
            raise refused(who.t("not_an_offer", campaign=campaign_id), 409, "not_an_offer")
        chosen = policy if policy in POLICIES else None
        result, problem = None, None
        try:
            run = compensate_campaign(
                app.uow,
                app.clock,
                campaign_id,
                who.actor,
                dry_run=True,
                policy=CompensationPolicy(chosen) if chosen else None,
            )
            result = compensation_json(run)
        except PledgeError as exc:
            problem = exc.message
        return render(
            who,
            "compensation.html",
            c=detail,
            result=result,
            items=(result or {}).get("items", [])[:SHOWN],
            problem=problem,
            policies=POLICIES,
            chosen=chosen,
            latest=detail["versions"][-1],
            actions=allowed_actions(who, detail),
        )

    @router.post("/campaigns/{campaign_id}/compensation")
    def apply(request: Request, campaign_id: str, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "policy", "confirm")
        who.require("compensation.apply")
        if form.get("confirm") != "yes":
            raise refused(who.t("confirm_required"), 400, "confirm_required")
        job = start_compensation(who, campaign_id, None, form.get("policy") or None)
        return redirect(who, f"/console/jobs/{job}?back=/console/campaigns/{campaign_id}/compensation")

    return router
