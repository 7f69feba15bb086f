"""Claims in the console (the review queue, one claim, a decision) and on the customer page (a claim
with its receipt, and its outcome). Every rule (checks, flags, four-eyes, one serial one payout, who
may see a file) is the use case's (ADR 28); these pages only ask and show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pledge.domain.claims import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_FILES, Claim, ClaimState
from pledge.domain.errors import InputError
from pledge.entrypoints.claims_json import claims_json
from pledge.entrypoints.console.catalogue_claims import APPROVE_REASONS, MESSAGES, REJECT_REASONS
from pledge.entrypoints.console.uploads import read_upload
from pledge.entrypoints.console.web import (
    Site,
    Visitor,
    audited,
    customer_account,
    read_form,
    redirect,
    render,
    visitor,
)
from pledge.entrypoints.console.zones import campaign_zone
from pledge.entrypoints.web.evidence import evidence_response
from pledge.entrypoints.web.mutations import raw_body
from pledge.usecases.claims import ClaimDesk, ClaimRequest, claim_json

Body = Annotated[bytes, Depends(raw_body)]
STATES = ("pending", "approved", "rejected")
CLAIM_FIELDS = ("campaign", "serial", "purchased_at", "price")


def words(who: Visitor, kind: str, name: str) -> str:
    """A check's, flag's or reason code's words; a rule condition or an unknown code as it is."""
    key = f"{kind}_{name}"
    return who.t(key) if key in MESSAGES else name


def _queue_page(who: Visitor, campaign: str | None, state: str, starting_after: str | None) -> Response:
    """The review queue, filtered by campaign and state, 50 claims a page."""
    app = who.ctx.app
    page = claims_json(
        app.claim_desk().list(
            campaign_id=campaign or None, state=state or None, starting_after=starting_after, limit=50
        )
    )
    return render(
        who,
        "claims.html",
        page=page,
        campaign=campaign or "",
        state=state,
        states=STATES,
        campaigns=sorted({c["campaign"] for c in page["data"]} | ({campaign} if campaign else set())),
        words=lambda kind, name: words(who, kind, name),
        tz=campaign_zone(app.uow, campaign or None),
    )


def _claim_page(who: Visitor, claim_id: str) -> Response:
    """One claim, with the decision form while it is pending and the visitor may decide."""
    app = who.ctx.app
    claim = claim_json(app.claim_desk().get(claim_id))
    return render(
        who,
        "claim.html",
        claim=claim,
        may_decide=claim["state"] == "pending" and who.may("claims.decide"),
        approve_reasons=APPROVE_REASONS,
        reject_reasons=REJECT_REASONS,
        words=lambda kind, name: words(who, kind, name),
        tz=campaign_zone(app.uow, claim["campaign"]),
    )


def _decide(who: Visitor, claim_id: str, form: dict[str, str]) -> Response:
    """Approve or reject a claim; the first of two approvals leaves it pending (four-eyes)."""
    if form.get("decision") not in ("approve", "reject"):
        raise InputError("decision: approve or reject", param="decision")
    approve = form["decision"] == "approve"
    decided = audited(
        who,
        "claim.decide",
        f"claim:{claim_id}",
        lambda uow: who.ctx.app.claim_desk(uow).decide(
            claim_id, approve=approve, reason=form.get("reason", ""), actor=who.actor
        ),
        approve=approve,
    )
    state = decided.claim.state
    if state is ClaimState.PENDING:
        message = who.t("claim_first_approval", id=claim_id)
    else:
        message = who.t("claim_decided_ok", id=claim_id, state=who.t(f"claim_state_{state.value}"))
    return redirect(who, f"/console/claims/{claim_id}", ("ok", message))


def staff_routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/claims")
    def queue(
        request: Request,
        campaign: str | None = None,
        state: str = "pending",
        starting_after: str | None = None,
    ) -> Response:
        who = visitor(site, request, customer=False)
        who.require("claims.read")
        return _queue_page(who, campaign, state, starting_after)

    @router.get("/claims/{claim_id}")
    def one(request: Request, claim_id: str) -> Response:
        who = visitor(site, request, customer=False)
        who.require("claims.read")
        return _claim_page(who, claim_id)

    @router.post("/claims/{claim_id}/decide")
    def decide(request: Request, claim_id: str, body: Body) -> Response:
        who = visitor(site, request, customer=False)
        form = read_form(who, body, "decision", "reason")
        who.require("claims.decide")
        return _decide(who, claim_id, form)

    @router.get("/claims/{claim_id}/evidence/{sha256}")
    def evidence(request: Request, claim_id: str, sha256: str) -> Response:
        who = visitor(site, request, customer=False)
        who.require("claims.read")
        kind, content = app.claim_desk().evidence(claim_id, sha256)
        return evidence_response(kind, content, f"{claim_id}-{sha256[:12]}")

    return router


def _instant(text: str, tz: str) -> str:
    """A ``datetime-local`` value (no offset) as an instant in the zone the page showed."""
    try:
        local = datetime.fromisoformat(text.strip())
        zone = ZoneInfo(tz)
    except (ValueError, KeyError):  # not a date and time; not a zone name (ZoneInfoNotFoundError)
        raise InputError("purchased_at: a date and time is required", param="purchased_at") from None
    return (local if local.tzinfo else local.replace(tzinfo=zone)).isoformat()


def my_claims(who: Visitor, account_id: str) -> dict[str, Any]:
    """What /me shows of claims: the customer's own, with the outcome in words, and the form."""
    desk = who.ctx.app.claim_desk()
    mine = claims_json(desk.list(account_id=account_id, limit=100))["data"]
    for claim in mine:
        reasons = [r for r in (claim["reason"] or "").split(",") if r]
        kind = "check" if claim["decided_by"] == "system" else "reason"
        claim["reason_text"] = ", ".join(words(who, kind, r) for r in reasons)
    return {
        "my_claims": mine,
        "claim_campaigns": desk.open_campaigns(),
        "claim_words": lambda kind, name: words(who, kind, name),
    }


def customer_routes(site: Site) -> APIRouter:
    """The account is always the signed-in customer's own, never one named by the form."""
    router = APIRouter()
    app = site.ctx.app

    @router.post("/claims")
    async def submit(request: Request) -> Response:
        who = visitor(site, request, customer=True)
        form, files = await read_upload(
            who,
            "evidence",
            max_files=MAX_EVIDENCE_FILES,
            max_file_bytes=MAX_EVIDENCE_BYTES,
            fields=(*CLAIM_FIELDS, "tz"),
        )
        who.require("claims.submit")
        account_id = customer_account(who)
        ctx = site.ctx
        ctx.limiter.check("claim_submit", f"account {account_id}", ctx.settings.rate_per_account)
        claim = ClaimRequest(
            form.get("campaign", ""),
            account_id,
            form.get("serial", ""),
            _instant(form.get("purchased_at", ""), form.get("tz") or "UTC"),
            form.get("price", "").strip(),
            files,
        )

        def submit_claim(uow: Any) -> Claim:
            desk: ClaimDesk = app.claim_desk(uow)
            return desk.submit(claim, who.actor)

        sent = await run_in_threadpool(audited, who, "claim.submit", f"account:{account_id}", submit_claim)
        if sent.state is ClaimState.REJECTED:
            reasons = ", ".join(words(who, "check", name) for name in sent.reason.split(","))
            flash = ("error", who.t("claim_sent_rejected", id=sent.id, reasons=reasons))
        else:
            flash = ("ok", who.t("claim_sent_pending", id=sent.id))
        return redirect(who, f"/me/#claim-{sent.id}", flash)

    @router.get("/claims/{claim_id}/evidence/{sha256}")
    def evidence(request: Request, claim_id: str, sha256: str) -> Response:
        who = visitor(site, request, customer=True)
        who.require("claims.read")
        kind, content = app.claim_desk().evidence(claim_id, sha256, account_id=customer_account(who))
        return evidence_response(kind, content, f"{claim_id}-{sha256[:12]}")

    return router
