"""/v1/accounts and /v1/purchases: bulk import by upload (a job), one object, eligibility."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from pledge.adapters.files.readers import count_rows, read_accounts, read_purchases
from pledge.domain.errors import InputError
from pledge.domain.money import format_minor
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS, PurchaseRecord
from pledge.domain.timeutil import format_instant
from pledge.domain.validation import check_columns
from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import import_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import ApiError, bad_request, not_found
from pledge.entrypoints.web.jobs import job_json
from pledge.entrypoints.web.mutations import IdempotencyHeader, UowFactory, make_call
from pledge.usecases.explain import explain_account
from pledge.usecases.import_data import Corrector, import_accounts, import_purchases

router = APIRouter(prefix="/v1", tags=["accounts and purchases"], responses=ERROR_RESPONSES)

AccountId = Annotated[str, Path(max_length=128, description="The account's id.")]
PARQUET_MAGIC = b"PAR1"
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
}


def purchase_json(p: PurchaseRecord) -> dict[str, Any]:
    return {
        "object": "purchase",
        "id": p.purchase_id,
        "account_id": p.account_id,
        "sku": p.sku,
        "serial": p.serial,
        "purchased_at": format_instant(p.purchased_at_us),
        "price": format_minor(p.price_minor, p.currency),
        "currency": p.currency,
        "status": p.status,
        "channel": p.channel,
    }


async def _receive(request: Request) -> tuple[FilePath, str, int]:
    """Stream the body to a temporary file; returns (path, sha256, size). The caller deletes it."""
    handle = tempfile.NamedTemporaryFile(prefix="pledge-upload-", delete=False)  # noqa: SIM115 - kept past this function: the caller deletes it
    digest, size = hashlib.sha256(), 0
    try:
        with handle:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
    except BaseException:
        os.unlink(handle.name)
        raise
    return FilePath(handle.name), digest.hexdigest(), size


def _prepare(raw: FilePath, size: int, kind: str, content_type: str) -> FilePath:
    """Name the file by its format (the readers choose by extension) and check its header now.

    A file whose columns are wrong is refused here, as a 400, before any job
    exists; row-level errors are found by the job and reported in its error.
    """
    if size == 0:
        raise bad_request("body: the upload is empty", param="body", code="empty_upload")
    with raw.open("rb") as f:
        head = f.read(4)
    is_parquet = head == PARQUET_MAGIC
    if content_type.split(";", 1)[0].strip().lower() in PARQUET_TYPES and not is_parquet:
        raise bad_request(
            "body: declared Parquet but is not a Parquet file", param="body", code="invalid_upload"
        )
    path = raw.with_suffix(".parquet" if is_parquet else ".csv")
    raw.rename(path)
    columns = ACCOUNT_COLUMNS if kind == "accounts" else PURCHASE_COLUMNS
    try:
        if is_parquet:
            header = pq.read_schema(path).names
        else:
            with path.open("rb") as f:
                first = f.readline(1 << 16).decode("utf-8-sig")
            header = next(csv.reader(io.StringIO(first)), [])
        check_columns(header, columns, f"{kind} upload")
    except (InputError, ApiError):
        path.unlink()
        raise
    except (UnicodeDecodeError, csv.Error, pa.ArrowException, OSError) as exc:
        path.unlink()
        raise bad_request(
            f"body: not a readable {kind} file ({exc})", param="body", code="invalid_upload"
        ) from None
    return path


def _import_route(kind: str) -> None:

    async def handler(
        request: Request,
        principal: Annotated[Principal, Depends(require("data.import"))],
        update: Annotated[bool, Query(description="Replace rows whose content changed.")] = False,
        idempotency_key: IdempotencyHeader = None,
    ) -> Response:
        raw, digest, size = await _receive(request)
        try:
            path = await run_in_threadpool(_prepare, raw, size, kind, request.headers.get("content-type", ""))
        except BaseException:
            raw.unlink(missing_ok=True)
            raise
        call = make_call(request, principal, idempotency_key, digest)
        started = False

        def execute() -> tuple[int, dict[str, Any]]:
            nonlocal started
            audit = call.audit(f"{kind}.import", f"import:{kind}", file_sha256=digest, bytes=size)

            def work(factory: UowFactory, progress: Callable[[int], None]) -> dict[str, Any]:
                done = 0

                def advance(n: int) -> None:
                    nonlocal done
                    done += n
                    progress(done)

                corrector = Corrector(call.ctx.app.rules, call.ctx.app.clock, principal.actor)
                if kind == "accounts":
                    result = import_accounts(
                        factory, read_accounts(path), update=update, progress=advance, corrector=corrector
                    )
                else:
                    result = import_purchases(
                        factory, read_purchases(path), update=update, progress=advance, corrector=corrector
                    )
                return {"object": "import", "kind": kind, **import_json(result)}

            job = call.start_job(
                f"{kind}.import",
                audit,
                work,
                cleanup=lambda: path.unlink(missing_ok=True),
                total=count_rows(path),
            )
            started = True  # the job owns the file now, and deletes it when it is over
            return 202, job_json(job)

        try:
            return await run_in_threadpool(call.respond, execute)
        finally:
            if not started:  # refused, replayed or failed: the file is nobody's
                path.unlink(missing_ok=True)

    handler.__name__ = f"import_{kind}"
    router.post(
        f"/{kind}/import",
        response_model=models.Job,
        status_code=202,
        summary=f"Import {kind} from a CSV or Parquet body, all or nothing (a job)",
        openapi_extra={**scopes_doc("data.import"), "requestBody": _UPLOAD_BODY},
    )(handler)


_import_route("accounts")
_import_route("purchases")


@router.get(
    "/accounts/{account_id}",
    response_model=models.Account,
    summary="One account and its purchases",
    openapi_extra=scopes_doc("data.read"),
)
def get_account(
    request: Request, account_id: AccountId, principal: Annotated[Principal, Depends(require("data.read"))]
) -> dict[str, Any]:
    account, purchases = (
        (None, []) if not principal.may_see(account_id) else context(request).store.account(account_id)
    )
    if account is None:
        raise not_found("account", account_id, "account_id")
    return {
        "object": "account",
        "id": account.account_id,
        "region": account.region,
        "registered_at": format_instant(account.registered_at_us),
        "purchases": [purchase_json(p) for p in purchases],
    }


@router.get(
    "/purchases/{purchase_id}",
    response_model=models.Purchase,
    summary="One purchase",
    openapi_extra=scopes_doc("data.read"),
)
def get_purchase(
    request: Request,
    purchase_id: Annotated[str, Path(max_length=128)],
    principal: Annotated[Principal, Depends(require("data.read"))],
) -> dict[str, Any]:
    purchase = context(request).store.purchase(purchase_id)
    if purchase is None or not principal.may_see(purchase.account_id):
        raise not_found("purchase", purchase_id, "purchase_id")
    return purchase_json(purchase)


@router.get(
    "/accounts/{account_id}/eligibility",
    response_model=models.Eligibility,
    summary="Why an account qualifies or not: every purchase, every condition",
    openapi_extra=scopes_doc("eligibility.read"),
)
def eligibility(
    request: Request,
    account_id: AccountId,
    campaign: Annotated[str, Query(max_length=64, description="Campaign id.")],
    principal: Annotated[Principal, Depends(require("eligibility.read"))],
) -> dict[str, Any]:
    if not principal.may_see(account_id):
        raise not_found("account", account_id, "account_id")
    ctx = context(request)
    ctx.limiter.check_each(
        "eligibility",
        [
            (principal.key_id, ctx.settings.rate_per_key),
            (f"account {account_id}", ctx.settings.rate_per_account),
        ],
    )
    result = explain_account(ctx.app.uow, ctx.app.rules, account_id, campaign)
    return {"object": "eligibility", **explanation_json(result)}
