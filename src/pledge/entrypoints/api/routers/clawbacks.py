"""/v1/clawbacks: opened grants whose purchase stopped qualifying, for finance (ADR 14)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, Limit, StartingAfter
from pledge.entrypoints.presenters import clawbacks_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.context import context
from pledge.usecases.corrections import list_clawbacks

router = APIRouter(prefix="/v1/clawbacks", tags=["grants"], responses=ERROR_RESPONSES)


@router.get(
    "",
    response_model=models.ClawbackList,
    summary="Claw-back cases, oldest id first: what customers owe back for opened grants",
    openapi_extra=scopes_doc("clawbacks.read"),
)
def list_(
    request: Request,
    principal: Annotated[Principal, Depends(require("clawbacks.read"))],
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[Literal["open"] | None, Query()] = None,
    starting_after: StartingAfter = None,
    limit: Limit = 10,
) -> dict[str, Any]:
    result = list_clawbacks(
        context(request).app.uow,
        campaign_id=campaign,
        state=state,
        starting_after=starting_after,
        limit=limit,
    )
    return {**clawbacks_json(result), "url": "/v1/clawbacks"}
