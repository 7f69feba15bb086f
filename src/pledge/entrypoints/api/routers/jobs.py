"""/v1/jobs/{id}: poll a long operation (campaign run, import)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES
from pledge.entrypoints.web.auth import Principal, authenticate
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import not_found
from pledge.entrypoints.web.jobs import job_json
from pledge.entrypoints.web.scopes import PERMISSIONS

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.get(
    "/{job_id}",
    response_model=models.Job,
    summary="A job's status, progress and result (the key that started it may always read it)",
    openapi_extra={"x-scopes": [*PERMISSIONS["jobs.read"], "creator"]},
)
def get_job(
    request: Request,
    job_id: Annotated[str, Path(max_length=40, description="A job id (job_…).")],
    principal: Annotated[Principal, Depends(authenticate)],
) -> dict[str, Any]:
    ctx = context(request)
    job = ctx.job_rows.job_get(job_id)
    # Another key's job is answered like a missing one: ids are not an oracle.
    if job is None or (
        principal.key.scope not in PERMISSIONS["jobs.read"] and job.api_key_id != principal.key_id
    ):
        raise not_found("job", job_id, "job_id")
    return job_json(job, ctx.jobs.live_progress(job_id))
