"""Customer service re-opens an expired envelope from the account page (ADR 26).

The same use case as ``pledge grants reinstate`` and ``POST /v1/grants/{id}/reinstate``, audited the
same way, as the signed-in key's person: above the campaign's ``payout.reinstate_review_above`` the
first person's re-opening is a pending approval and a different person completes it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pledge.domain.errors import RefusedError
from pledge.entrypoints.claims_json import reinstatement_json
from pledge.entrypoints.console import fmt
from pledge.entrypoints.console.catalogue import MESSAGES
from pledge.entrypoints.console.web import Site, Visitor, audited, read_form, redirect, refused, visitor
from pledge.entrypoints.console.zones import campaign_zone
from pledge.entrypoints.web.mutations import raw_body
from pledge.usecases.reinstate import reinstate_grant

Body = Annotated[bytes, Depends(raw_body)]


def reinstate_routes(router: APIRouter, site: Site) -> None:
    app = site.ctx.app

    @router.post("/grants/{grant_id}/reinstate")
    def reinstate(request: Request, grant_id: str, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "reason", "confirm")
        who.require("grants.reinstate")
        grant = site.ctx.store.grant(grant_id)
        if grant is None:
            raise refused(who.t("not_found"), 404, "not_found")
        back = f"/console/accounts/{quote(grant.account_id, safe='')}"
        if form.get("confirm") != "yes":
            raise refused(who.t("confirm_required"), 400, "confirm_required")
        reason = form.get("reason", "").strip()
        if not reason:
            return redirect(who, back, ("error", who.t("reinstate_reason_required")))
        try:
            done = audited(
                who,
                "grant.reinstate",
                f"grant:{grant_id}",
                lambda uow: reinstatement_json(reinstate_grant(uow, app.clock, grant_id, reason, who.actor)),
            )
        except RefusedError as exc:
            return redirect(who, back, ("error", _refusal(who, exc)))
        pending = done.get("reinstatement")
        if pending:
            above = who.money(pending["review_above"], done["currency"])
            return redirect(who, back, ("ok", who.t("reinstate_pending", id=grant_id, above=above)))
        until = fmt.instant(done["expires_at"], campaign_zone(app.uow, done["campaign"]))
        return redirect(who, back, ("ok", who.t("reinstate_done", id=grant_id, until=until)))


def _refusal(who: Visitor, exc: RefusedError) -> str:
    """The refusal in the reader's language where we have words for it, else the engine's message."""
    key = f"reinstate_refused_{exc.code}"
    reason = who.t(key) if key in MESSAGES else exc.message
    return who.t("reinstate_refused", reason=reason)
