"""A campaign's notifications in the console (ADR 26): a template previewed for one account, and
each distribution's funnel as a bar chart with the same numbers in a table.

The preview is what ``notify send`` would word for that account — the same parameters and the
same renderer, in the account's language — and nothing is stored or sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pledge.bootstrap import notification_renderer
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.entrypoints.console import charts
from pledge.entrypoints.console.web import Site, Visitor, render, svg, visitor
from pledge.entrypoints.explain_json import campaign_detail_json
from pledge.entrypoints.notify_json import funnel_json, preview_json
from pledge.usecases.insights import campaign_detail
from pledge.usecases.notify_funnel import campaign_funnels
from pledge.usecases.notify_preview import TEMPLATE_CHOICES, preview_message

FUNNEL_STEPS = ("planned", "sent", "failed", "suppressed", "opened")


def funnel_chart(who: Visitor, funnel: dict[str, Any]) -> Any:
    """The funnel as bars (no script), titled and described for screen readers; the table beside
    it carries the same numbers."""
    steps = [(step, who.t(f"funnel_{step}"), int(funnel[step])) for step in FUNNEL_STEPS]
    described = ", ".join(f"{label} {count}" for _, label, count in steps)
    title = who.t("funnel_title", id=funnel["id"], template=funnel["template"])
    return svg(charts.funnel_bars(f"funnel-{funnel['id']}", title, described, steps))


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/campaigns/{campaign_id}/notifications")
    def notifications(
        request: Request, campaign_id: str, template: str | None = None, account: str | None = None
    ) -> Response:
        who = visitor(site, request, customer=False)
        who.require("campaigns.read")
        detail = campaign_detail_json(campaign_detail(app.uow, campaign_id))
        chosen = template if template in TEMPLATE_CHOICES else TEMPLATE_CHOICES[0]
        preview: dict[str, Any] | None = None
        problem = ""
        if account and account.strip():
            try:
                preview = preview_json(
                    preview_message(
                        app.uow, app.clock, notification_renderer(), campaign_id, chosen, account.strip()
                    )
                )
            except (InputError, NotFoundError, RefusedError) as exc:  # shown next to the form
                problem = exc.message
        funnels = [funnel_json(f) for f in campaign_funnels(app.uow, campaign_id)]
        return render(
            who,
            "notifications.html",
            c=detail,
            templates=TEMPLATE_CHOICES,
            chosen=chosen,
            account=(account or "").strip(),
            preview=preview,
            problem=problem,
            funnels=[{**f, "svg": funnel_chart(who, f)} for f in funnels],
            steps=FUNNEL_STEPS,
        )

    return router
