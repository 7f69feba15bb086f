"""What every router shares: documented error responses, list envelopes, pagination, documents."""

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


def document_body(json_description: str, yaml_description: str, *schemas: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a file posted as JSON or YAML (campaigns, plans).

    The JSON form is described by the same schemas as the files (docs/schemas), so a client
    generated from this document knows every field, and that no other is accepted.
    """
    bodies = [{k: v for k, v in schema.items() if k not in ("$schema", "$id")} for schema in schemas]
    json_schema = bodies[0] if len(bodies) == 1 else {"oneOf": bodies}
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {**json_schema, "description": json_description}},
            "application/yaml": {"schema": {"type": "string", "description": yaml_description}},
        },
    }
