"""Request bodies and query strings refuse what they do not know.

A JSON body that says ``{"dryrun": true}`` to an endpoint that reads
``dry_run`` must not run for real: every request body model derives from
:class:`StrictBody`, which refuses an unknown field with 400
``invalid_request_error``, code ``unknown_field``, ``param`` naming the field
and a "did you mean" when one is close (the same words as for campaign files,
:mod:`pledge.domain.schemas`). ``extra="forbid"`` also makes the OpenAPI
document say ``additionalProperties: false``.

Query strings get the same treatment from :func:`check_known_query`: a
parameter the route does not declare (``?acount=A1``, which would otherwise
list every account's grants) is refused the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from pledge.adapters.files.documents import load_json, load_yaml
from pledge.domain.errors import InputError
from pledge.domain.schemas import UNKNOWN_FIELD, unknown_field_message
from pledge.entrypoints.web.errors import bad_request
from pledge.entrypoints.web.inputs import check_json


class StrictBody(BaseModel):
    """A request body: a field the model does not declare is refused, never ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_fields_only(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in known:
                    raise PydanticCustomError(
                        UNKNOWN_FIELD,
                        "{message}",
                        {"field": str(key), "message": unknown_field_message(str(key), str(key), known)},
                    )
        return data


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares (its dependencies' too), computed once per route."""
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = _QUERY_NAMES[id(route)] = frozenset(_query_names(route.dependant))
    return names


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names


def check_known_query(request: Request, also: Iterable[str] = ()) -> None:
    """Refuse a query parameter the matched route does not declare (``also``: names every page reads)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = sorted(declared_query(route) | set(also))
    for name in request.query_params:
        if name not in known:
            raise bad_request(
                unknown_field_message(name, name, known, "query parameter"),
                param=name,
                code=UNKNOWN_FIELD,
            )


def refuse_unexpected_body(request: Request, body: bytes) -> None:
    """An operation that reads no body refuses one: ``{"dry_run": true}`` to expire must not expire.

    An empty body or ``{}`` is no body. Operations that read their body raw (files, imports)
    document it in ``openapi_extra`` and are left to read it.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is not None:
        return
    if "requestBody" in (route.openapi_extra or {}) or not body.strip():
        return
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if document == {}:
        return
    if isinstance(document, dict):
        name = str(next(iter(document)))
        raise bad_request(
            f"{name}: unknown field; this operation takes no body", param=name, code=UNKNOWN_FIELD
        )
    raise bad_request("body: this operation takes no body", param="body", code="body_not_allowed")


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def parse_document(body: bytes, content_type: str, what: str = "campaign") -> dict[str, Any]:
    """A campaign or plans document from a YAML or JSON body (the same file the CLI applies)."""
    if not body.strip():
        raise bad_request(f"body: a {what} document is required", param="body", code="missing_body")
    is_yaml = content_type.split(";", 1)[0].strip().lower() in YAML_TYPES
    try:
        document = load_yaml(body, "body") if is_yaml else load_json(body, "body")
    except InputError as exc:
        code = "invalid_body" if exc.code in ("invalid_yaml", "invalid_json") else exc.code
        raise bad_request(exc.message, param="body", code=code) from None
    check_json(document)
    return document
