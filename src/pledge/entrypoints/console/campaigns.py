"""Campaign pages: the list, one campaign, applying terms, and approve / launch / run with confirmation."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from pledge.domain.campaign import CampaignState
from pledge.domain.persons import same_person
from pledge.entrypoints.campaign_json import applied_json, approval_json, launched_json, state_change_json
from pledge.entrypoints.console import charts
from pledge.entrypoints.console.presenters import shortfall_json, timeline_json
from pledge.entrypoints.console.web import (
    Site,
    Visitor,
    audited,
    flat,
    read_form,
    redirect,
    refused,
    render,
    safe_next,
    svg,
    visitor,
)
from pledge.entrypoints.explain_json import campaign_detail_json, campaign_summary_json
from pledge.entrypoints.presenters import problem_json, run_json
from pledge.entrypoints.report_json import report_json
from pledge.entrypoints.web.bodies import parse_document
from pledge.entrypoints.web.jobs import job_json
from pledge.entrypoints.web.mutations import Call, UowFactory, raw_body, request_id
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign, set_campaign_state
from pledge.usecases.insights import campaign_detail, grant_timeline, list_campaigns
from pledge.usecases.issue import run_campaign
from pledge.usecases.report import campaign_report
from pledge.usecases.shortfall import preview_shortfall
from pledge.usecases.simulate import simulate_campaign

Body = Annotated[bytes, Depends(raw_body)]
EXAMPLES = ("founders-refund.yaml", "founders-refund-typo.yaml", "cloud-double-11-v1.yaml")
ACTIONS = ("approve", "launch", "run", "pause", "resume")
_ID_LINE = re.compile(r"^id:\s*(\S+)\s*$", re.MULTILINE)


def example_text(name: str, taken: set[str]) -> str:
    """A bundled example, under a campaign id nobody uses yet (so applying it creates a new campaign)."""
    text = resources.files("pledge.examples").joinpath(name).read_text(encoding="utf-8")
    match = _ID_LINE.search(text)
    if match is None or match.group(1) not in taken:
        return text
    n = 2
    while f"{match.group(1)}-{n}" in taken:
        n += 1
    return text[: match.start(1)] + f"{match.group(1)}-{n}" + text[match.end(1) :]


def versions_side_by_side(versions: list[dict[str, Any]], shown: int = 3) -> dict[str, Any]:
    """The last ``shown`` versions as rows of fields; a cell is marked when it differs from its left."""
    recent = versions[-shown:]
    flats = [flat(v["document"]) for v in recent]
    names: list[str] = []
    for f in flats:
        names += [n for n in f if n not in names]
    rows = []
    for name in names:
        cells, previous = [], None
        for index, f in enumerate(flats):
            value = f.get(name, "—")
            cells.append({"value": value, "changed": index > 0 and value != previous})
            previous = value
        rows.append({"name": name, "cells": cells, "changed": any(c["changed"] for c in cells)})
    return {"versions": recent, "rows": rows, "hidden": len(versions) - len(recent)}


def allowed_actions(who: Visitor, detail: dict[str, Any]) -> dict[str, str | None]:
    """Each action: None when this person may do it now, else the reason it is not offered."""
    state, latest = detail["state"], detail["versions"][-1]
    reasons: dict[str, str | None] = {}
    if not who.may("campaigns.approve"):
        reasons["approve"] = who.t("needs_scope", scope="approver")
    elif latest["approved"]:
        reasons["approve"] = who.t("already_approved", version=latest["version"])
    elif same_person(latest["author"], who.name):
        reasons["approve"] = who.t("four_eyes_you_wrote")
    else:
        reasons["approve"] = None
    operate = None if who.may("campaigns.operate") else who.t("needs_scope", scope="operator")
    cashback = detail["kind"] == "cashback"
    reasons["launch"] = operate or (None if state == "approved" else who.t("not_in_state", state=state))
    reasons["run"] = operate or (
        None if state == "active" and cashback else who.t("not_in_state", state=state)
    )
    reasons["pause"] = operate or (None if state == "active" else who.t("not_in_state", state=state))
    reasons["resume"] = operate or (None if state == "paused" else who.t("not_in_state", state=state))
    return reasons


def _count(who: Visitor, value: str | None) -> int | None:
    """An optional count typed into a form: blank is None; anything but digits is refused (400)."""
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit():
        raise refused(who.t("accept_shortfall_invalid"), 400, "invalid_request")
    return int(value.strip())


def timeline_chart(who: Visitor, timeline: dict[str, Any]) -> dict[str, Any]:
    days = [
        (date.fromisoformat(d["date"]), {s: d[f"{s}_minor"] for s in ("issued", "claimed", "expired")})
        for d in timeline["days"]
    ]
    cur = timeline["currency"]
    budget = timeline["budget_minor"]
    top = max([budget or 0] + [v for _, values in days for v in values.values()])
    drawn = charts.timeline_lines(
        "timeline",
        who.t("timeline_title"),
        who.t("timeline_desc", days=len(days)),
        days,
        ("issued", "claimed", "expired"),
        budget,
        who.money(charts._nice_max(top) if top else 0, cur),
    )
    return {"svg": svg(drawn), "days": timeline["days"], "totals": timeline["totals"], "currency": cur}


def routes(site: Site) -> APIRouter:
    """The pages in the order they must match (``/campaigns/new`` before ``/campaigns/{id}``)."""
    router = APIRouter()
    _pages(router, site)
    _actions(router, site)
    _jobs(router, site)
    return router


def _pages(router: APIRouter, site: Site) -> None:
    """The list, applying terms, and one campaign."""
    app = site.ctx.app

    @router.get("/")
    def home(request: Request) -> Response:
        who = visitor(site, request, customer=False)
        return redirect(who, "/console/campaigns")

    @router.get("/campaigns")
    def campaigns(request: Request) -> Response:
        who = visitor(site, request, customer=False)
        who.require("campaigns.read")
        return render(
            who, "campaigns.html", campaigns=[campaign_summary_json(c) for c in list_campaigns(app.uow)]
        )

    @router.get("/campaigns/new")
    def new(request: Request, example: str = EXAMPLES[0]) -> Response:
        who = visitor(site, request, customer=False)
        who.require("campaigns.write")
        taken = {c.id for c in list_campaigns(app.uow)}
        chosen = example if example in EXAMPLES else EXAMPLES[0]
        return render(
            who, "apply.html", examples=EXAMPLES, chosen=chosen, document=example_text(chosen, taken)
        )

    @router.post("/campaigns/new")
    def apply(request: Request, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "document")
        who.require("campaigns.write")
        document = parse_document(form.get("document", "").encode("utf-8"), "application/yaml")
        subject = f"campaign:{document.get('id')}"
        result = audited(
            who,
            "campaign.apply",
            subject,
            lambda uow: applied_json(apply_campaign(uow, app.rules, app.clock, document, who.actor)),
        )
        key = "applied_version" if result["changed"] else "applied_unchanged"
        return redirect(who, f"/console/campaigns/{result['id']}", ("ok", who.t(key, **result)))

    @router.get("/campaigns/{campaign_id}")
    def campaign(request: Request, campaign_id: str) -> Response:
        who = visitor(site, request, customer=False)
        who.require("campaigns.read")
        detail = campaign_detail_json(campaign_detail(app.uow, campaign_id))
        report = report_json(campaign_report(app.uow, campaign_id))
        timeline = None
        if detail["kind"] == "cashback" and detail["launched"]:
            timeline = timeline_chart(who, timeline_json(grant_timeline(app.uow, site.insights, campaign_id)))
        audit = site.ctx.audit_log.audit_page(None, 500, f"campaign:{campaign_id}")[-50:]
        latest = detail["versions"][-1]["document"]
        conditions = []
        if detail["kind"] == "cashback":
            conditions = [c.name for c in app.rules(str(latest["qualify"]["rule"])).rule.conditions]
        return render(
            who,
            "campaign.html",
            c=detail,
            report=report,
            side=versions_side_by_side(detail["versions"]),
            actions=allowed_actions(who, detail),
            timeline=timeline,
            audit=list(reversed(audit)),
            conditions=conditions,
            latest=latest,
        )


def _actions(router: APIRouter, site: Site) -> None:
    """Approve, launch, run, pause and resume: a confirmation page, then the audited action."""
    app = site.ctx.app

    @router.get("/campaigns/{campaign_id}/{action}")
    def confirm(request: Request, campaign_id: str, action: str) -> Response:
        who = visitor(site, request, customer=False)
        if action not in ACTIONS:
            raise refused(who.t("not_found"), 404, "not_found")
        detail = campaign_detail_json(campaign_detail(app.uow, campaign_id))
        reason = allowed_actions(who, detail)[action]
        return render(
            who,
            "confirm.html",
            c=detail,
            action=action,
            reason=reason,
            latest=detail["versions"][-1],
            report=report_json(campaign_report(app.uow, campaign_id)),
            **_warnings(site, detail, action, offered=reason is None),
        )

    @router.post("/campaigns/{campaign_id}/{action}")
    def act(request: Request, campaign_id: str, action: str, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "content_hash", "accept_shortfall")
        if action not in ACTIONS:
            raise refused(who.t("not_found"), 404, "not_found")
        who.require("campaigns.approve" if action == "approve" else "campaigns.operate")  # else 403
        detail = campaign_detail_json(campaign_detail(app.uow, campaign_id))
        reason = allowed_actions(who, detail)[action]
        if reason is not None:  # state, or four-eyes by person (whichever of their keys they use)
            raise refused(reason, 409)
        subject, page = f"campaign:{campaign_id}", f"/console/campaigns/{campaign_id}"
        if action == "approve":
            expected = form.get("content_hash") or None
            done = audited(
                who,
                "campaign.approve",
                subject,
                lambda uow: approval_json(
                    approve_campaign(uow, app.rules, app.clock, campaign_id, who.actor, expected)
                ),
            )
            return redirect(who, page, ("ok", who.t("approved_done", **done)))
        if action == "launch":
            accepted = _count(who, form.get("accept_shortfall"))
            done = audited(
                who,
                "campaign.launch",
                subject,
                lambda uow: launched_json(
                    launch_campaign(uow, app.rules, app.clock, campaign_id, who.actor, accepted)
                ),
                accept_shortfall=accepted,
            )
            return redirect(who, page, ("ok", who.t("launched_done", **done)))
        if action in ("pause", "resume"):
            target = CampaignState.PAUSED if action == "pause" else CampaignState.ACTIVE
            done = audited(
                who,
                f"campaign.{action}",
                subject,
                lambda uow: state_change_json(
                    set_campaign_state(uow, app.clock, campaign_id, target, who.actor)
                ),
            )
            return redirect(who, page, ("ok", who.t("state_done", **done)))
        return redirect(who, _start_run(site, who, campaign_id))


def _warnings(site: Site, detail: dict[str, Any], action: str, *, offered: bool) -> dict[str, Any]:
    """What the approver and the operator must see before they confirm (ADR 15)."""
    app = site.ctx.app
    found: dict[str, Any] = {"stacking": [], "shortfall": None}
    if not offered or detail["kind"] != "cashback":
        return found
    if action == "launch":
        found["shortfall"] = shortfall_json(preview_shortfall(app.uow, app.rules, detail["id"]))
    elif action == "approve" and detail["versions"][-1]["document"].get("stacking") == "allowed":
        sim = simulate_campaign(app.uow, app.rules, detail["id"], near_miss_limit=0)
        found["stacking"] = [problem_json(p) for p in sim.problems if p.code == "stacking_allowed"]
    return found


def _start_run(site: Site, who: Visitor, campaign_id: str) -> str:
    """Start the run as an audited job; the page to follow it on."""
    app = site.ctx.app
    ctx = site.ctx
    audit_call = Call(ctx, who.require("campaigns.operate"), request_id(who.request), None, "")
    audit = audit_call.audit("campaign.run", f"campaign:{campaign_id}")

    def work(uow: UowFactory, progress: Callable[[int], None]) -> dict[str, Any]:
        return run_json(run_campaign(uow, app.rules, app.clock, campaign_id, who.actor, progress))

    job = audit_call.start_job("campaign.run", audit, work)
    return f"/console/jobs/{job.job_id}?back=/console/campaigns/{campaign_id}"


def _jobs(router: APIRouter, site: Site) -> None:
    """A job's page and its status (to the person who started it, or with jobs.read)."""

    @router.get("/jobs/{job_id}.json")  # before /jobs/{job_id}, which would match it too
    def job_status(request: Request, job_id: str) -> Response:
        who = visitor(site, request, customer=False)
        return JSONResponse(visible_job(who, job_id))

    @router.get("/jobs/{job_id}")
    def job(request: Request, job_id: str, back: str = "/console/campaigns") -> Response:
        who = visitor(site, request, customer=False)
        found = visible_job(who, job_id)
        running = found["status"] in ("queued", "running")
        return render(who, "job.html", job=found, running=running, back=safe_next(back, "/console"))

    def visible_job(who: Visitor, job_id: str) -> dict[str, Any]:
        row = site.ctx.job_rows.job_get(job_id)
        mine = row is not None and who.principal is not None and row.api_key_id == who.principal.key_id
        if row is None or not (mine or who.may("jobs.read")):
            raise refused(who.t("not_found"), 404, "not_found")
        return {
            **job_json(row, site.ctx.jobs.live_progress(row.job_id)),
            "total": site.ctx.jobs.total(row.job_id),
        }
