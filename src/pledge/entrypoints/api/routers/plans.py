"""/v1/plans: apply the catalog (YAML or JSON, like `pledge plans apply`), read the current one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pledge.adapters.webhooks.subjects import CATALOG_SUBJECT
from pledge.domain.schemas import PLANS
from pledge.entrypoints.api import billing_models
from pledge.entrypoints.api.routers.common import (
    ERROR_RESPONSES,
    Limit,
    StartingAfter,
    document_body,
    page,
)
from pledge.entrypoints.billing_json import applied_catalog_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.bodies import parse_document
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import bad_request
from pledge.entrypoints.web.mutations import Call, UowFactory, mutation, raw_body
from pledge.usecases.catalog import apply_plans

router = APIRouter(prefix="/v1/plans", tags=["plans"], responses=ERROR_RESPONSES)


@router.post(
    "",
    response_model=billing_models.CatalogApplied,
    summary="Apply a plans file: a changed file is the next catalog version, the same file changes nothing",
    openapi_extra={
        **scopes_doc("plans.write"),
        "requestBody": document_body("A plans document {currency, plans}", "The plans file, as YAML", PLANS),
    },
)
def apply(
    request: Request,
    call: Annotated[Call, Depends(mutation("plans.write"))],
    body: Annotated[bytes, Depends(raw_body)],
) -> Response:
    document = parse_document(body, request.headers.get("content-type", ""), "plans")
    app = call.ctx.app

    def fn(uow: UowFactory) -> dict[str, Any]:
        result = apply_plans(uow, app.clock, document, call.principal.actor)
        return {"object": "catalog", **applied_catalog_json(result)}

    return call.run("plans.apply", CATALOG_SUBJECT, fn, billing_models.CatalogApplied)


@router.get(
    "",
    response_model=billing_models.PlanList,
    summary="The plans of the current catalog, in catalog order (an empty list before the first apply)",
    openapi_extra=scopes_doc("plans.read"),
)
def list_(
    request: Request,
    _: Annotated[Principal, Depends(require("plans.read"))],
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    catalog = context(request).subjects.catalog()
    plans = [{"object": "plan", **p} for p in (catalog["plans"] if catalog else [])]
    if starting_after is not None:
        ids = [p["id"] for p in plans]
        if starting_after not in ids:
            raise bad_request(
                f"starting_after: {starting_after!r} is not a plan of the current catalog",
                param="starting_after",
            )
        plans = plans[ids.index(starting_after) + 1 :]
    return {
        **page(plans, limit, "/v1/plans"),
        "catalog_version": catalog["version"] if catalog else None,
        "currency": catalog["currency"] if catalog else None,
    }
