"""One error shape for the whole API: ``{"error": {"type", "code", "message", "param"}}``.

HTTP status by kind (ADR 0006):

- 400 ``invalid_request_error``: malformed input (``InputError``, a bad field, body or parameter)
- 401 ``authentication_error``: no key, an unknown key, an expired or revoked key
- 403 ``permission_error``: the key's scope does not allow the operation
- 404 ``invalid_request_error``: no such object — or one the key may not see (customer keys)
- 409 ``refused_error``: a business rule refused a well-formed request (``RefusedError``:
  four-eyes, not approved, grant expired…); ``conflict_error`` for a concurrent change
  (safe to retry); ``idempotency_error`` for a reused or busy Idempotency-Key
- 413 ``invalid_request_error``: the body is over the size limit
- 429 ``rate_limit_error``: too many requests for this key or customer account
- 500 ``api_error``: a bug or a broken invariant (never user error); 503 when the database is busy
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pledge.domain.errors import (
    ConflictError,
    InputError,
    InvariantViolation,
    NotFoundError,
    PledgeError,
    RefusedError,
)
from pledge.domain.schemas import UNKNOWN_FIELD

log = logging.getLogger("pledge.api")


class ApiError(Exception):
    """An error raised by the API layer itself, already knowing its status and type."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.code, self.message, self.param = status, type_, code, message, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "code": self.code, "message": self.message, "param": self.param}}


def bad_request(message: str, *, code: str = "invalid_request", param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request_error", code, message, param)


def not_found(what: str, ident: str, param: str | None = None) -> ApiError:
    return ApiError(
        404, "invalid_request_error", f"{what}_not_found", f"{what} {ident} does not exist", param
    )


def from_exception(exc: BaseException) -> ApiError:
    """Map anything raised below the API to its HTTP error (the CLI maps the same errors to exit codes)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InputError):
        return ApiError(400, "invalid_request_error", exc.code, exc.message, exc.param)
    if isinstance(exc, NotFoundError):
        return ApiError(404, "invalid_request_error", exc.code, exc.message, exc.param)
    if isinstance(exc, RefusedError):
        return ApiError(409, "refused_error", exc.code, exc.message, exc.param)
    if isinstance(exc, ConflictError):
        return ApiError(409, "conflict_error", exc.code, exc.message, exc.param)
    if isinstance(exc, InvariantViolation):
        log.error("invariant violated: %s", exc.message)
        return ApiError(500, "api_error", exc.code, exc.message, exc.param)
    if isinstance(exc, PledgeError):
        return ApiError(400, "invalid_request_error", exc.code, exc.message, exc.param)
    if isinstance(exc, IntegrityError):
        # Two requests created the same thing at once; the loser may simply retry.
        return ApiError(
            409, "conflict_error", "conflict", "a concurrent request changed the same object; retry"
        )
    if isinstance(exc, OperationalError) and "locked" in str(exc).lower():
        return ApiError(
            503,
            "api_error",
            "database_busy",
            "the database is busy (a long write is running); retry shortly",
            headers={"Retry-After": "5"},
        )
    log.exception("unexpected error", exc_info=exc)
    return ApiError(500, "api_error", "internal_error", "an unexpected error occurred; it has been logged")


def error_response(error: ApiError, request_id: str | None = None) -> JSONResponse:
    headers = dict(error.headers)
    if request_id:
        headers["Request-Id"] = request_id
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def handle_any(request: Request, exc: Exception) -> JSONResponse:
    return error_response(from_exception(exc), _request_id(request))


async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    if first.get("type") in (UNKNOWN_FIELD, "extra_forbidden"):
        # A misspelt field is never ignored: name it, and the field meant when one is close.
        context = first.get("ctx") or {}
        field = [str(context["field"])] if "field" in context else []
        where = ".".join(location)
        text = str(context.get("message") or "unknown field")
        message = f"{where}.{text}" if where and field else f"{where}: {text}" if where else text
        error = ApiError(400, "invalid_request_error", UNKNOWN_FIELD, message, ".".join([*location, *field]))
        return error_response(error, _request_id(request))
    param = ".".join(location) or None
    message = f"{param}: {first.get('msg', 'invalid')}" if param else str(first.get("msg", "invalid request"))
    return error_response(
        ApiError(400, "invalid_request_error", "invalid_parameter", message, param), _request_id(request)
    )


async def handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "unknown_url", 405: "method_not_allowed"}
    error = ApiError(
        exc.status_code,
        "invalid_request_error",
        codes.get(exc.status_code, "http_error"),
        f"{request.method} {request.url.path}: {exc.detail}",
    )
    return error_response(error, _request_id(request))
