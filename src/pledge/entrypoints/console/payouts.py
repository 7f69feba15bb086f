"""Payouts in the console: transfers by state (customer service's queue of failures, with the
provider's reason) and the reconciliation of a provider's daily statement, which changes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pledge.bootstrap import statement_lines
from pledge.domain.errors import InputError
from pledge.domain.payouts import RAILS
from pledge.entrypoints.console.uploads import read_upload
from pledge.entrypoints.console.web import Site, Visitor, render, visitor
from pledge.entrypoints.payouts_json import payouts_json, reconciliation_json
from pledge.usecases.payout_listing import list_payouts
from pledge.usecases.payout_reconcile import reconcile_payouts

STATES = ("failed", "unknown", "waiting_user", "submitted", "pending", "succeeded", "cancelled", "returned")
MAX_STATEMENT_BYTES = 256 << 20  # the server's upload limit bounds the body; this bounds the file
LISTED = ("missing_at_provider", "missing_in_ledger", "amount_mismatch")


def staff_routes(site: Site) -> APIRouter:
    router = APIRouter()
    app = site.ctx.app

    @router.get("/payouts")
    def transfers(
        request: Request,
        state: str = "failed",
        campaign: str | None = None,
        starting_after: str | None = None,
    ) -> Response:
        who = visitor(site, request, customer=False)
        who.require("payouts.read")
        page = list_payouts(
            app.uow,
            campaign_id=campaign or None,
            state=state or None,
            starting_after=starting_after,
            limit=50,
        )
        return render(
            who,
            "payouts.html",
            page=payouts_json(page),
            state=state,
            states=STATES,
            campaign=campaign or "",
            rails=RAILS,
        )

    @router.post("/payouts/reconcile")
    async def reconcile(request: Request) -> Response:
        who = visitor(site, request, customer=False)
        form, files = await read_upload(
            who, "statement", max_files=1, max_file_bytes=MAX_STATEMENT_BYTES, fields=("rail",)
        )
        who.require("payouts.read")
        if len(files) != 1:
            raise InputError("statement: choose the provider's statement file (CSV)", param="statement")
        rail = form.get("rail", "")
        report = await run_in_threadpool(_reconcile, who, rail, files[0])
        return render(who, "reconcile.html", report=report, rail=rail, listed=LISTED)

    return router


def _reconcile(who: Visitor, rail: str, upload: tuple[str, bytes]) -> dict[str, Any]:
    """The statement is read from a private temporary file, checked line by line, then compared."""
    name, content = upload
    with tempfile.TemporaryDirectory(prefix="pledge-statement-") as folder:
        path = Path(folder) / (Path(name).name or "statement.csv")
        path.write_bytes(content)
        return reconciliation_json(reconcile_payouts(who.ctx.app.uow, rail, statement_lines(path)))
