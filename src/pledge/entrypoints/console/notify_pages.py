"""A campaign's notifications in the console: a template previewed for one account (ADR 26).

The preview is what ``notify send`` would word for that account — the same parameters and the
same renderer, in the account's language — and nothing is stored or sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pledge.bootstrap import notification_renderer
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.entrypoints.console.web import Site, render, visitor
from pledge.usecases.insights import campaign_detail
from pledge.usecases.notify_preview import TEMPLATE_CHOICES, preview_message


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/campaigns/{campaign_id}/notifications")
    def notifications(
        request: Request, campaign_id: str, template: str | None = None, account: str | None = None
    ) -> Response:
        who = visitor(site, request, customer=False)
        who.require("campaigns.read")
        detail = campaign_detail(app.uow, campaign_id)
        chosen = template if template in TEMPLATE_CHOICES else TEMPLATE_CHOICES[0]
        preview: dict[str, Any] | None = None
        problem = ""
        if account and account.strip():
            try:
                preview = preview_message(
                    app.uow, app.clock, notification_renderer(), campaign_id, chosen, account.strip()
                )
            except (InputError, NotFoundError, RefusedError) as exc:  # shown next to the form
                problem = exc.message
        return render(
            who,
            "notifications.html",
            c=detail,
            templates=TEMPLATE_CHOICES,
            chosen=chosen,
            account=(account or "").strip(),
            preview=preview,
            problem=problem,
        )

    return router
