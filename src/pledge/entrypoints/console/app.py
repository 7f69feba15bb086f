"""The web console (/console) and the customer page (/me), mounted on the API's application.

Each is its own small FastAPI application (no OpenAPI document: these are pages,
not an API), sharing the API's context: the same use cases, keys, audit log,
jobs and rate limits. Errors are pages here, not JSON: a refused form goes back
to the page it came from with the reason; a missing permission is a 403 page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from pledge.adapters.sqlalchemy.console_keys import KeysById
from pledge.adapters.sqlalchemy.insights import SqlInsights
from pledge.entrypoints.console import (
    campaigns,
    claims,
    compensation,
    customer,
    dryrun,
    notify_pages,
    payouts,
    signin,
    support,
)
from pledge.entrypoints.console.session import Sessions
from pledge.entrypoints.console.unsubscribe import mount_unsubscribe
from pledge.entrypoints.console.web import FormRefused, SignInRequired, Site, redirect, render, visitor
from pledge.entrypoints.web.bodies import check_known_query
from pledge.entrypoints.web.context import ApiContext
from pledge.entrypoints.web.errors import ApiError, from_exception
from pledge.entrypoints.web.inputs import check_params

STAFF_TTL_S = 8 * 3600  # a working day; then sign in again
CUSTOMER_TTL_S = 3600

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

HEADERS = [
    # Everything is served by this app: no CDN, no inline script or style, no framing.
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                static = scope.get("path", "").startswith(("/console/static/", "/static/"))
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}  # a response's own stricter header stays alone
                extra = [
                    (k, v) for k, v in HEADERS if k not in present and not (static and k == b"cache-control")
                ]
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def templates() -> Environment:
    return Environment(
        loader=PackageLoader("pledge.entrypoints.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def check_inputs(request: Request) -> None:
    """Paths and queries with NUL or other control characters are refused, as by the API; and unknown ones."""
    check_known_query(request, also=("lang",))
    check_params(request.path_params)
    for name, value in request.query_params.multi_items():
        check_params({name: value})


def _handlers(site: Site, area: FastAPI, *, customer: bool) -> None:
    def page_error(request: Request, status: int, message: str, code: str) -> Response:
        who = visitor(site, request, customer=customer, signed_in=False)
        back = getattr(request.state, "back", None)
        message = who.refusal(code, message)
        if request.method == "POST" and back and status in (400, 404, 409, 429):
            return redirect(who, back, ("error", message))
        return render(who, "error.html", status, http_status=status, message=message, code=code)

    async def on_sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(exc.url, status_code=303)

    async def on_form(request: Request, exc: Exception) -> Response:
        who = visitor(site, request, customer=customer, signed_in=False)
        return render(who, "error.html", 403, http_status=403, message=who.t("form_refused"), code="csrf")

    async def on_error(request: Request, exc: Exception) -> Response:
        error = from_exception(exc)
        return page_error(request, error.status, error.message, error.code)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        who = visitor(site, request, customer=customer, signed_in=False)
        message = who.t("not_found") if exc.status_code == 404 else str(exc.detail)
        return render(
            who, "error.html", exc.status_code, http_status=exc.status_code, message=message, code="http"
        )

    area.add_exception_handler(SignInRequired, on_sign_in)
    area.add_exception_handler(FormRefused, on_form)
    area.add_exception_handler(ApiError, on_error)
    area.add_exception_handler(Exception, on_error)
    area.add_exception_handler(StarletteHTTPException, on_http)


def _area() -> FastAPI:
    return FastAPI(docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(check_inputs)])


def mount_console(api: FastAPI, ctx: ApiContext) -> None:
    """``/console`` for staff, ``/me`` for customers, ``/`` sends people to the console."""
    site = Site(
        ctx,
        templates(),
        SqlInsights(ctx.store.reader),
        KeysById(ctx.store.reader),
        Sessions("pledge_console", "/console", STAFF_TTL_S, clock=ctx.clock),
        Sessions("pledge_me", "/me", CUSTOMER_TTL_S, clock=ctx.clock),
    )
    console = _area()
    console.include_router(signin.routes(site, customer=False))
    console.include_router(support.routes(site))
    console.include_router(claims.staff_routes(site))
    console.include_router(payouts.staff_routes(site))
    # Fixed paths under /campaigns/{id}/ first: campaigns' /campaigns/{id}/{action} would match them.
    console.include_router(dryrun.routes(site))
    console.include_router(compensation.routes(site))
    console.include_router(notify_pages.routes(site))
    console.include_router(campaigns.routes(site))
    console.mount("/static", StaticFiles(packages=[("pledge.entrypoints.console", "static")]), name="static")
    _handlers(site, console, customer=False)

    me = _area()
    me.include_router(signin.routes(site, customer=True))
    me.include_router(customer.routes(site))
    me.include_router(claims.customer_routes(site))
    _handlers(site, me, customer=True)

    api.mount("/console", SecurityHeaders(console))
    api.mount("/me", SecurityHeaders(me))

    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    api.add_api_route("/", root, include_in_schema=False)
    mount_unsubscribe(api, ctx.app.uow, ctx.app.clock)
