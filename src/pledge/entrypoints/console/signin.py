"""Signing in and out: staff on /console, customers on /me, each with their own API key.

A person signs in by pasting their key (from ``pledge keys create``); the
session keeps only the key's id. Staff keys cannot open the customer page and
customer keys cannot open the console. Attempts are rate limited per client
address, like claims.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pledge.entrypoints.console.web import Site, read_form, redirect, render, safe_next, visitor
from pledge.entrypoints.web.mutations import raw_body
from pledge.entrypoints.web.ratelimit import Rate
from pledge.entrypoints.web.scopes import CUSTOMER

Body = Annotated[bytes, Depends(raw_body)]
# Keys are 256-bit random: this only stops a flood, not a guess (which cannot succeed).
SIGN_IN_RATE = Rate(per_second=2.0, burst=60)


def routes(site: Site, *, customer: bool) -> APIRouter:
    router = APIRouter()
    base = "/me" if customer else "/console"

    @router.get("/sign-in")
    def sign_in_page(request: Request, next: str | None = None) -> Response:
        who = visitor(site, request, customer=customer, signed_in=False)
        return render(who, "signin.html", next=safe_next(next, base), base=base, customer=customer)

    @router.post("/sign-in")
    def sign_in(request: Request, body: Body) -> Response:
        who = visitor(site, request, customer=customer, signed_in=False)
        form = read_form(who, body, "key", "next")
        ctx = site.ctx
        client = request.client.host if request.client else "unknown"
        ctx.limiter.check("sign-in", client, SIGN_IN_RATE)
        secret = form.get("key", "").strip()
        key = ctx.store.key_by_secret(secret) if 0 < len(secret) <= 200 else None  # never a cached key
        target = safe_next(form.get("next"), base)
        problem = None
        if key is None or not key.usable(ctx.clock.now_us()):
            problem = who.t("signin_bad_key")
        elif (key.scope == CUSTOMER) != customer:
            problem = who.t("signin_customer_key" if customer else "signin_staff_key")
        if key is None or problem is not None:
            return render(who, "signin.html", 401, next=target, base=base, customer=customer, problem=problem)
        response = redirect(who, target)
        who.sessions.save(response, request, who.sessions.new(key.key_id))  # a new CSRF token too
        return response

    @router.post("/sign-out")
    def sign_out(request: Request, body: Body) -> Response:
        who = visitor(site, request, customer=customer, signed_in=False)
        read_form(who, body)
        response = redirect(who, f"{base}/sign-in")
        who.sessions.clear(response)
        return response

    return router
