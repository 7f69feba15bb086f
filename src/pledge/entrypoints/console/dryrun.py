"""The dry run you can see: reach and cost, rejections per condition, near misses by day, what-if."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pledge.entrypoints.console import charts
from pledge.entrypoints.console.campaigns import allowed_actions
from pledge.entrypoints.console.presenters import histogram_json
from pledge.entrypoints.console.web import Site, Visitor, render, svg, visitor
from pledge.entrypoints.explain_json import campaign_detail_json
from pledge.entrypoints.presenters import simulation_json
from pledge.usecases.insights import MAX_HISTOGRAM_DAYS, campaign_detail, near_miss_histogram
from pledge.usecases.simulate import simulate_campaign
from pledge.usecases.simulation import Simulation

DEFAULT_DAYS = 14
MAX_WIDEN = 3650


def _int(value: str | None, low: int, high: int, default: int | None) -> int | None:
    if value is None or not value.strip():
        return default
    try:
        number = int(value.strip())
    except ValueError:
        return default
    return max(low, min(high, number))


def conditions_table(sim: Simulation) -> list[dict[str, Any]]:
    """The rule as its conditions, each with how many purchases it rejects and how many it alone rejects."""
    only = sim.near_misses_by_condition
    return [
        {"name": name, "rejected": n, "only": only.get(name, 0), "window": name == "purchased"}
        for name, n in sim.rejections.items()
    ]


def histogram(who: Visitor, data: dict[str, Any]) -> dict[str, Any]:
    before = [(b["days"], b["count"]) for b in data["before"]]
    after = [(a["days"], a["count"]) for a in data["after"]]
    drawn = charts.near_miss_bars(
        "near-misses",
        who.t("histogram_title", days=data["max_days"]),
        who.t("histogram_desc", total=data["total"], days=data["max_days"]),
        before,
        after,
        who.t("days_early"),
        who.t("days_late"),
    )
    return {"svg": svg(drawn), **data}


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/campaigns/{campaign_id}/dry-run")
    def dry_run(
        request: Request, campaign_id: str, widen_days: str | None = None, days: str | None = None
    ) -> Response:
        who = visitor(site, request, customer=False)
        who.require("campaigns.simulate")
        widen = _int(widen_days, 1, MAX_WIDEN, None)
        span = _int(days, 1, MAX_HISTOGRAM_DAYS, DEFAULT_DAYS) or DEFAULT_DAYS
        detail = campaign_detail_json(campaign_detail(app.uow, campaign_id))
        sim = simulate_campaign(app.uow, app.rules, campaign_id, near_miss_limit=20, widen_days=widen)
        shown = max(span, widen or 0)
        hist = histogram_json(near_miss_histogram(app.uow, app.rules, site.insights, campaign_id, shown))
        page = simulation_json(sim)
        amount_minor = sim.plan.amount_minor
        widened = None
        if sim.widen is not None:
            widened = {**page["widen"], "total_minor": amount_minor + sim.widen.added_amount_minor}
        return render(
            who,
            "dryrun.html",
            c=detail,
            sim=page,
            widen=widened,
            widen_days=widen,
            span=span,
            conditions=conditions_table(sim),
            hist=histogram(who, hist),
            budget_minor=sim.budget_minor,
            amount_minor=amount_minor,
            latest=detail["versions"][-1],
            actions=allowed_actions(who, detail),
        )

    return router
