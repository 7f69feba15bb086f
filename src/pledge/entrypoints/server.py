"""The server: the /v1 API and the console on one FastAPI app; middleware, lifespan, errors, OpenAPI."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from pledge.adapters.webhooks.delivery import Deliverer, DeliveryThread
from pledge.bootstrap import App
from pledge.domain.errors import PledgeError
from pledge.entrypoints.api.routers import (
    campaigns,
    claims,
    clawbacks,
    compensation,
    data,
    grants,
    jobs,
    ledger,
    payouts,
    plans,
    quotes,
    subscriptions,
    webhooks,
)
from pledge.entrypoints.console.app import mount_console
from pledge.entrypoints.notify_worker import NotifyThread
from pledge.entrypoints.web.bodies import check_known_query
from pledge.entrypoints.web.context import ApiContext, Settings
from pledge.entrypoints.web.errors import (
    ApiError,
    from_exception,
    handle_any,
    handle_http,
    handle_validation,
)
from pledge.entrypoints.web.inputs import check_params

log = logging.getLogger("pledge.api")

# One module per resource family.
ROUTERS = (
    campaigns,
    claims,
    compensation,
    data,
    grants,
    clawbacks,
    jobs,
    ledger,
    webhooks,
    plans,
    quotes,
    subscriptions,
    payouts,
)

DESCRIPTION = """\
Pledge's HTTP API: the same use cases as the `pledge` CLI.

Conventions (Stripe's): `Authorization: Bearer <key>`; `Idempotency-Key` on every POST;
errors as `{"error": {"type", "code", "message", "param"}}`; lists as
`{"object": "list", "data", "has_more", "url"}` with `starting_after` and `limit`;
long operations return a job to poll at `/v1/jobs/{id}`. `x-scopes` on each operation
names the key scopes allowed to call it.
"""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _BodyTooLarge(Exception):
    pass


class Guard:
    """Outermost middleware: a request id on everything, the body size cap, and no bare 500s.

    The cap is checked against Content-Length up front and again while the
    body streams in (chunked uploads have no length), so an oversized body is
    refused before it is read whole.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{secrets.token_hex(12)}"
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope.get("path", "")
        limit = body_limit(path, self.settings)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"request-id" for k, _ in headers):
                    headers.append((b"request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        async def answer(error: ApiError) -> None:
            if started:
                return
            body = json.dumps(error.body()).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            await send_with_id({"type": "http.response.start", "status": error.status, "headers": headers})
            await send_with_id({"type": "http.response.body", "body": body})

        too_large = ApiError(
            413,
            "invalid_request_error",
            "body_too_large",
            f"the body is over the {limit:,}-byte limit",
            "body",
        )
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await answer(too_large)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            await answer(too_large)
        except Exception as exc:
            await answer(from_exception(exc))


def check_request_params(request: Request) -> None:
    """Every path and query parameter of every route, before anything uses it; no unknown ones."""
    check_known_query(request)
    check_params(request.path_params)
    for name, value in request.query_params.multi_items():
        check_params({name: value})


def _lifespan(ctx: ApiContext) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        now = ctx.clock.now_us()
        interrupted = ctx.job_rows.jobs_interrupted(now - int(ctx.settings.job_silence_s * 1_000_000), now)
        if interrupted:
            log.warning("%d job(s) were interrupted by a stop and are marked failed", interrupted)
        worker = None
        if ctx.settings.webhook_worker:
            deliverer = Deliverer(ctx.webhooks, ctx.settings.webhook_policy)
            worker = DeliveryThread(deliverer, ctx.settings.webhook_interval_s)
            worker.start()
        notifier = None
        if ctx.settings.notify_worker:
            notifier = NotifyThread(ctx.app, ctx.settings.notify_interval_s, ctx.settings.notify_max_per_pass)
            notifier.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if notifier is not None:
                notifier.stop()
            ctx.jobs.wait_idle(timeout_s=30)

    return lifespan


def create_app(pledge: App, settings: Settings | None = None) -> FastAPI:
    ctx = ApiContext(pledge, settings or Settings())
    api = FastAPI(
        title="Pledge API",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan(ctx),
        dependencies=[Depends(check_request_params)],
    )
    api.state.pledge = ctx
    for module in ROUTERS:
        api.include_router(module.router)
    # The web console (/console) and the customer page (/me) on the same use cases (ADR 0008).
    mount_console(api, ctx)
    api.add_exception_handler(ApiError, handle_any)
    api.add_exception_handler(PledgeError, handle_any)
    api.add_exception_handler(RequestValidationError, handle_validation)
    api.add_exception_handler(StarletteHTTPException, handle_http)
    api.add_middleware(Guard, settings=ctx.settings)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]  # FastAPI's documented override
    return api


def _openapi(api: FastAPI) -> dict[str, Any]:
    if api.openapi_schema:
        return api.openapi_schema
    schema = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
    # Validation errors are answered 400 with the common error body, never FastAPI's 422.
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    api.openapi_schema = schema
    return schema


def openapi_document(api: FastAPI) -> str:
    """The published document (docs/openapi.json), byte-stable for the drift test."""
    return json.dumps(api.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# Claims carry evidence files: up to MAX_EVIDENCE_FILES of MAX_EVIDENCE_BYTES, and a few text fields.
CLAIM_PATHS = ("/v1/claims", "/me/claims")
RECONCILE_PATH = "/console/payouts/reconcile"  # a provider's statement: as large as an import


def body_limit(path: str, settings: Settings) -> int:
    """The most bytes a request body to ``path`` may have: imports, claims, or everything else."""
    if path.endswith("/import") or path == RECONCILE_PATH:
        return settings.upload_limit
    if path in CLAIM_PATHS:
        return settings.claim_body_limit
    return settings.json_body_limit
