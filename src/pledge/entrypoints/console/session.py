"""Signed session cookies and CSRF tokens for the console and the customer page.

A session is a small JSON document signed with HMAC-SHA256 and kept in an
HttpOnly, SameSite=Strict cookie (Secure when served over HTTPS) with an
absolute expiry. It holds the signed-in API key's *id* — never its secret — so
every request looks the key up again and a revoked or expired key ends the
session at once. It also holds the CSRF synchronizer token that every form
posts back, and at most one flash message shown after a redirect.

The signing secret comes from ``PLEDGE_CONSOLE_SECRET``; without it each
process draws a random one, so sessions end when the server restarts and do
not carry across several server processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field, replace

from starlette.requests import Request
from starlette.responses import Response

from pledge.bootstrap import SystemClock
from pledge.usecases.ports import Clock

SECRET_ENV = "PLEDGE_CONSOLE_SECRET"  # noqa: S105  (the variable's name, not a secret)
MAX_FLASH = 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    expires: int  # unix seconds
    key_id: str | None = None
    flash: tuple[str, str] | None = None  # (kind, text): "ok" or "error"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None


class Sessions:
    """One cookie (name and path) holding one kind of session: staff on /console, customers on /me."""

    def __init__(
        self, cookie: str, path: str, ttl_s: int, secret: bytes | None = None, clock: Clock | None = None
    ) -> None:
        self.cookie, self.path, self.ttl_s = cookie, path, ttl_s
        self._clock: Clock = clock or SystemClock()
        configured = os.environ.get(SECRET_ENV, "")
        self._secret = secret or (configured.encode("utf-8") if configured else secrets.token_bytes(32))

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, self.cookie.encode() + b"|" + payload, hashlib.sha256).digest())

    def encode(self, session: Session) -> str:
        body: dict[str, object] = {"c": session.csrf, "e": session.expires, "k": session.key_id}
        if session.flash:
            body["f"] = list(session.flash)
        if session.extra:
            body["x"] = session.extra
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return f"{_b64(payload)}.{self._sign(payload)}"

    def decode(self, value: str | None, now_s: int | None = None) -> Session | None:
        if not value or len(value) > 4096 or "." not in value:
            return None
        encoded, _, signature = value.partition(".")
        try:
            payload = _unb64(encoded)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(payload)
            flash = body.get("f")
            session = Session(
                csrf=str(body["c"]),
                expires=int(body["e"]),
                key_id=None if body.get("k") is None else str(body["k"]),
                flash=(str(flash[0]), str(flash[1])) if flash else None,
                extra={str(k): str(v) for k, v in dict(body.get("x") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, IndexError):
            return None
        now = self._now_s() if now_s is None else now_s
        return session if session.expires > now else None

    def new(self, key_id: str | None = None) -> Session:
        """A fresh session (a new CSRF token too: signing in never keeps a token seen before)."""
        return Session(secrets.token_urlsafe(24), self._now_s() + self.ttl_s, key_id)

    def _now_s(self) -> int:
        return self._clock.now_us() // 1_000_000

    def load(self, request: Request) -> Session | None:
        return self.decode(request.cookies.get(self.cookie))

    def save(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(
            self.cookie,
            self.encode(session),
            max_age=max(0, session.expires - self._now_s()),
            path=self.path,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path=self.path, httponly=True, samesite="strict")


def with_flash(session: Session, kind: str, text: str) -> Session:
    return replace(session, flash=(kind, text[:MAX_FLASH]))


def check_csrf(session: Session | None, submitted: str | None) -> bool:
    """The synchronizer-token check: the form's token must be the session's."""
    return bool(session and submitted and hmac.compare_digest(session.csrf, submitted))
