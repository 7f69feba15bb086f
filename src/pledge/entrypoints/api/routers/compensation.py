"""/v1/campaigns/{id}/compensate: make purchases under earlier offer terms whole.

A dry run answers at once (200) and changes nothing; it may be narrowed to
one account (``account_id``), for customer service explaining what one
customer would get. Applying is a long, batched operation: 202 and a job, like
a campaign run; re-running it applies nothing twice. Applying covers the whole
campaign (operator), or one account (support: compensating one customer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import Response
from pydantic import Field, StrictBool

from pledge.domain.offers import CompensationPolicy
from pledge.entrypoints.api import billing_models, models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES
from pledge.entrypoints.presenters import compensation_json
from pledge.entrypoints.web.auth import check_permission, scopes_doc
from pledge.entrypoints.web.bodies import StrictBody
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.jobs import job_json
from pledge.entrypoints.web.mutations import Call, UowFactory, mutation
from pledge.usecases.compensate import compensate_campaign

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=ERROR_RESPONSES)

CampaignId = Annotated[str, Path(max_length=64, description="The offer campaign's id (a slug).")]


class CompensateParams(StrictBody):
    dry_run: StrictBool = Field(
        default=False, description="List what each term would get and change nothing (answered at once)."
    )
    policy: Literal["rate_parity", "difference_as_time"] | None = Field(
        default=None, description="Default: the policy in the newest approved terms (rate_parity if none)."
    )
    account_id: str | None = Field(
        default=None,
        max_length=128,
        description="Only this account's terms (a support key may then apply: one customer made whole).",
    )


@router.post(
    "/{campaign_id}/compensate",
    response_model=billing_models.Compensation,
    responses={202: {"model": models.Job, "description": "Applying: a job to poll; its result is the run"}},
    summary="Compensate terms bought under earlier versions: a dry run (200), or apply as a job (202)",
    description="A dry run is open to the scopes listed in `x-scopes`; applying (`dry_run` false, the "
    "default, as in the CLI) needs an operator key, or a support key when `account_id` names one customer.",
    openapi_extra={
        **scopes_doc("compensation.preview"),
        "x-scopes-apply": ["operator", "support (one account)"],
    },
)
def compensate(
    campaign_id: CampaignId,
    call: Annotated[Call, Depends(mutation("compensation.preview"))],
    params: Annotated[CompensateParams | None, Body()] = None,
) -> Response:
    p = params or CompensateParams()
    if p.account_id is not None:
        check_text(p.account_id, "account_id")
    if not p.dry_run:
        # Customer service may make one customer whole; the whole campaign is an operator's job.
        check_permission(
            call.principal, "compensation.apply" if p.account_id is None else "compensation.apply_one"
        )
    app = call.ctx.app
    policy = CompensationPolicy(p.policy) if p.policy else None
    actor = call.principal.actor

    if p.dry_run:

        def preview() -> tuple[int, dict[str, Any]]:
            # A dry run changes nothing, so it is not audited; POST because it computes.
            result = compensate_campaign(
                app.uow, app.clock, campaign_id, actor, dry_run=True, policy=policy, account_id=p.account_id
            )
            body = {"object": "compensation_run", **compensation_json(result)}
            return 200, billing_models.Compensation.model_validate(body).model_dump(mode="json")

        return call.respond(preview)

    def execute() -> tuple[int, dict[str, Any]]:
        audit = call.audit("campaign.compensate", f"campaign:{campaign_id}", policy=p.policy)

        def work(uow: UowFactory, progress: Callable[[int], None]) -> dict[str, Any]:
            result = compensate_campaign(
                uow,
                app.clock,
                campaign_id,
                actor,
                dry_run=False,
                policy=policy,
                progress=progress,
                account_id=p.account_id,
            )
            return {"object": "compensation_run", **compensation_json(result)}

        return 202, job_json(call.start_job("campaign.compensate", audit, work))

    return call.respond(execute)
