"""What every router shares: documented error responses, list envelopes, pagination parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query

from pledge.entrypoints.api.models import ErrorBody

_ERROR = {"model": ErrorBody}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "Malformed request (invalid_request_error)"},
    401: {**_ERROR, "description": "No valid API key (authentication_error)"},
    403: {**_ERROR, "description": "The key's scope does not allow this (permission_error)"},
    404: {**_ERROR, "description": "No such object, or not one this key may see"},
    409: {**_ERROR, "description": "Refused by a business rule, a concurrent change, or an idempotency key"},
    413: {**_ERROR, "description": "Body too large"},
    429: {**_ERROR, "description": "Rate limited (rate_limit_error); see Retry-After"},
    503: {**_ERROR, "description": "Database busy; retry (see Retry-After)"},
}

MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (1-100).")]
StartingAfter = Annotated[
    str | None, Query(max_length=256, description="Cursor: the id of the last object of the previous page.")
]


def page(data: Sequence[Any], limit: int, url: str) -> dict[str, Any]:
    """A Stripe-style list from up to ``limit + 1`` fetched items."""
    return {"object": "list", "data": list(data[:limit]), "has_more": len(data) > limit, "url": url}
