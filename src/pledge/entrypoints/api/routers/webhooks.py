"""/v1/webhook_endpoints and /v1/events: where events go, and what happened."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from pledge.adapters.webhooks.store import EVENT_TYPES, Endpoint
from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, Limit, StartingAfter, page
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.bodies import StrictBody
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import bad_request, not_found
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.mutations import Call, mutation

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES)

Manage = Annotated[Principal, Depends(require("webhooks.manage"))]
EndpointId = Annotated[str, Path(max_length=40, description="A webhook endpoint id (we_…).")]


def endpoint_json(endpoint: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    return {
        "object": "webhook_endpoint",
        "id": endpoint.endpoint_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "created": endpoint.created_at_us // 1_000_000,
        "secret": endpoint.secret if with_secret else None,
    }


class EndpointParams(StrictBody):
    url: str = Field(max_length=2048, description="http(s) URL that receives POSTed events.")
    events: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES) + 1, description=f"Any of {', '.join(EVENT_TYPES)}, or *."
    )
    description: str = Field(default="", max_length=200)


def _check(params: EndpointParams) -> None:
    check_text(params.url, "url", max_length=2048)
    check_text(params.description, "description", max_length=200)
    parts = urlsplit(params.url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise bad_request("url: an http or https URL with a host and no credentials", param="url")
    unknown = sorted(set(params.events) - {*EVENT_TYPES, "*"})
    if unknown:
        raise bad_request(
            f"events: unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)}, *)",
            param="events",
            code="unknown_event_type",
        )


@router.post(
    "/webhook_endpoints",
    response_model=models.WebhookEndpoint,
    summary="Register an endpoint; its signing secret is in this response only (never in a replay)",
    openapi_extra=scopes_doc("webhooks.manage"),
)
def create_endpoint(
    params: EndpointParams, call: Annotated[Call, Depends(mutation("webhooks.manage"))]
) -> Response:
    _check(params)

    def execute() -> tuple[int, dict[str, Any]]:
        audit = call.audit("webhook_endpoint.create", "webhook_endpoint:new")
        endpoint = call.ctx.webhooks.create_endpoint(
            params.url, params.events, params.description, call.ctx.clock.now_us(), audit
        )
        return 200, endpoint_json(endpoint, with_secret=True)

    # The secret is shown once: a replay (Idempotency-Key) answers the same endpoint without it,
    # so the secret is never stored beside the key nor handed to whoever retries with it.
    return call.respond(execute, stored=lambda body: {**body, "secret": None})


@router.get(
    "/webhook_endpoints",
    response_model=models.WebhookEndpointList,
    summary="List endpoints",
    openapi_extra=scopes_doc("webhooks.manage"),
)
def list_endpoints(
    request: Request, _: Manage, starting_after: StartingAfter = None, limit: Limit = 10
) -> dict[str, Any]:
    found = context(request).webhooks.endpoints(starting_after, limit + 1)
    return page([endpoint_json(e) for e in found], limit, "/v1/webhook_endpoints")


@router.get(
    "/webhook_endpoints/{endpoint_id}",
    response_model=models.WebhookEndpoint,
    summary="One endpoint (without its secret)",
    openapi_extra=scopes_doc("webhooks.manage"),
)
def get_endpoint(request: Request, endpoint_id: EndpointId, _: Manage) -> dict[str, Any]:
    endpoint = context(request).webhooks.endpoint(endpoint_id)
    if endpoint is None:
        raise not_found("webhook_endpoint", endpoint_id, "endpoint_id")
    return endpoint_json(endpoint)


@router.delete(
    "/webhook_endpoints/{endpoint_id}",
    response_model=models.WebhookEndpoint,
    summary="Disable an endpoint: nothing more is sent to it",
    openapi_extra=scopes_doc("webhooks.manage"),
)
def delete_endpoint(request: Request, endpoint_id: EndpointId, principal: Manage) -> dict[str, Any]:
    ctx = context(request)
    audit = Call(ctx, principal, str(request.state.request_id), None, "").audit(
        "webhook_endpoint.disable", f"webhook_endpoint:{endpoint_id}"
    )
    endpoint = ctx.webhooks.disable_endpoint(endpoint_id, audit)
    if endpoint is None:
        raise not_found("webhook_endpoint", endpoint_id, "endpoint_id")
    return endpoint_json(endpoint)


@router.get(
    "/events",
    response_model=models.EventList,
    summary="Events, oldest id first (only those some endpoint was subscribed to)",
    openapi_extra=scopes_doc("events.read"),
)
def list_events(
    request: Request,
    _: Annotated[Principal, Depends(require("events.read"))],
    type: Annotated[str | None, Query(max_length=48, description="Only events of this type.")] = None,
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    found = context(request).webhooks.events(starting_after, limit + 1, type)
    return page(found, limit, "/v1/events")


@router.get(
    "/events/{event_id}",
    response_model=models.Event,
    summary="One event, exactly as delivered",
    openapi_extra=scopes_doc("events.read"),
)
def get_event(
    request: Request,
    event_id: Annotated[str, Path(max_length=40)],
    _: Annotated[Principal, Depends(require("events.read"))],
) -> dict[str, Any]:
    event = context(request).webhooks.event(event_id)
    if event is None:
        raise not_found("event", event_id, "event_id")
    return event
