"""/v1/campaigns: apply (YAML or JSON), simulate, approve, launch, run (a job), pause, resume, report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import Response
from pydantic import Field

from pledge.domain.campaign import CampaignState as State
from pledge.domain.schemas import CASHBACK_CAMPAIGN, OFFER_CAMPAIGN
from pledge.entrypoints.api import models
from pledge.entrypoints.api.routers.common import ERROR_RESPONSES, document_body
from pledge.entrypoints.campaign_json import applied_json, approval_json, launched_json, state_change_json
from pledge.entrypoints.presenters import run_json, simulation_json
from pledge.entrypoints.report_json import report_json
from pledge.entrypoints.web.auth import Principal, require, scopes_doc
from pledge.entrypoints.web.bodies import StrictBody, parse_document
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.jobs import job_json
from pledge.entrypoints.web.mutations import Call, UowFactory, finish_audit, mutation, raw_body
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign, set_campaign_state
from pledge.usecases.common import campaign_not_found
from pledge.usecases.issue import run_campaign
from pledge.usecases.report import campaign_report
from pledge.usecases.simulate import simulate_campaign

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=ERROR_RESPONSES)

CampaignId = Annotated[str, Path(max_length=64, description="The campaign's id (a slug).")]
Operate = Annotated[Call, Depends(mutation("campaigns.operate"))]
_APPLY_BODY = document_body(
    "A campaign document: cashback or offer (kind: offer)",
    "The campaign file, as YAML",
    CASHBACK_CAMPAIGN,
    OFFER_CAMPAIGN,
)


@router.post(
    "",
    response_model=models.CampaignTerms,
    summary="Apply a campaign file: create it, add a terms version, or change nothing",
    openapi_extra={**scopes_doc("campaigns.write"), "requestBody": _APPLY_BODY},
)
def apply(
    request: Request,
    call: Annotated[Call, Depends(mutation("campaigns.write"))],
    body: Annotated[bytes, Depends(raw_body)],
) -> Response:
    document = parse_document(body, request.headers.get("content-type", ""))
    app = call.ctx.app
    subject = f"campaign:{document.get('id')}"
    return call.run(
        "campaign.apply",
        subject,
        lambda uow: applied_json(apply_campaign(uow, app.rules, app.clock, document, call.principal.actor)),
        models.CampaignTerms,
    )


class SimulateParams(StrictBody):
    near_misses: int = Field(default=100, ge=0, le=10_000, description="How many near misses to list.")
    widen_days: int | None = Field(
        default=None, ge=1, le=3650, description="Also price a window wider by N days."
    )


@router.post(
    "/{campaign_id}/simulate",
    response_model=models.Simulation,
    summary="Dry run of the latest terms over every purchase",
    openapi_extra=scopes_doc("campaigns.simulate"),
)
def simulate(
    campaign_id: CampaignId,
    call: Annotated[Call, Depends(mutation("campaigns.simulate"))],
    params: Annotated[SimulateParams | None, Body()] = None,
) -> Response:
    p = params or SimulateParams()
    app = call.ctx.app

    def execute() -> tuple[int, dict[str, Any]]:
        # A dry run changes nothing, so it is not audited; POST because it computes.
        result = simulate_campaign(
            app.uow, app.rules, campaign_id, near_miss_limit=p.near_misses, widen_days=p.widen_days
        )
        return 200, models.Simulation.model_validate(simulation_json(result)).model_dump(mode="json")

    return call.respond(execute)


class ApproveParams(StrictBody):
    content_hash: str | None = Field(
        default=None, max_length=80, description="Refuse unless the latest version has this content hash."
    )


@router.post(
    "/{campaign_id}/approve",
    response_model=models.Approval,
    summary="Approve the latest terms version (never by the key that applied it)",
    openapi_extra=scopes_doc("campaigns.approve"),
)
def approve(
    campaign_id: CampaignId,
    call: Annotated[Call, Depends(mutation("campaigns.approve"))],
    params: Annotated[ApproveParams | None, Body()] = None,
) -> Response:
    expected = params.content_hash if params else None
    app = call.ctx.app
    return call.run(
        "campaign.approve",
        f"campaign:{campaign_id}",
        lambda uow: approval_json(
            approve_campaign(uow, app.rules, app.clock, campaign_id, call.principal.actor, expected)
        ),
        models.Approval,
    )


class LaunchParams(StrictBody):
    accept_shortfall: int | None = Field(
        default=None,
        ge=0,
        description="Launch although the budget leaves this many qualifying purchases unpaid: the exact "
        "budget_exhausted of the dry run. Without it such a launch is refused (budget_shortfall).",
    )


@router.post(
    "/{campaign_id}/launch",
    response_model=models.CampaignState,
    summary="Activate an approved campaign and fund its budget",
    openapi_extra=scopes_doc("campaigns.operate"),
)
def launch(
    campaign_id: CampaignId, call: Operate, params: Annotated[LaunchParams | None, Body()] = None
) -> Response:
    app = call.ctx.app
    accepted = params.accept_shortfall if params else None

    def execute() -> tuple[int, dict[str, Any]]:
        # The acknowledgement is part of the audit record, beside the campaign's history.
        audit = call.audit("campaign.launch", f"campaign:{campaign_id}", accept_shortfall=accepted)
        result = launch_campaign(
            call.factory(audit), app.rules, app.clock, campaign_id, call.principal.actor, accepted
        )
        finish_audit(call.ctx, audit)
        return 200, models.CampaignState.model_validate(launched_json(result)).model_dump(mode="json")

    return call.respond(execute)


def _state_route(name: str, target: State, summary: str) -> None:
    def handler(campaign_id: CampaignId, call: Operate) -> Response:
        def fn(uow: UowFactory) -> dict[str, Any]:
            return state_change_json(
                set_campaign_state(uow, call.ctx.app.clock, campaign_id, target, call.principal.actor)
            )

        return call.run(f"campaign.{name}", f"campaign:{campaign_id}", fn, models.CampaignState)

    handler.__name__ = f"campaign_{name}"
    router.post(
        f"/{{campaign_id}}/{name}",
        response_model=models.CampaignState,
        summary=summary,
        openapi_extra=scopes_doc("campaigns.operate"),
    )(handler)


_state_route("pause", State.PAUSED, "Pause issuance")
_state_route("resume", State.ACTIVE, "Resume a paused campaign")
_state_route("close", State.CLOSED, "Close a campaign for good")


@router.post(
    "/{campaign_id}/run",
    response_model=models.Job,
    status_code=202,
    summary="Issue grants in the background (idempotent); poll the job",
    openapi_extra=scopes_doc("campaigns.operate"),
)
def run(campaign_id: CampaignId, call: Operate) -> Response:
    ctx, app = call.ctx, call.ctx.app

    def execute() -> tuple[int, dict[str, Any]]:
        # An unknown campaign is a 404 now, not a job that fails later.
        if not ctx.subjects.snapshot(f"campaign:{campaign_id}"):
            raise campaign_not_found(campaign_id)
        audit = call.audit("campaign.run", f"campaign:{campaign_id}")

        def work(uow: UowFactory, progress: Callable[[int], None]) -> dict[str, Any]:
            outcome = run_campaign(uow, app.rules, app.clock, campaign_id, call.principal.actor, progress)
            return run_json(outcome)

        return 202, job_json(call.start_job("campaign.run", audit, work))

    return call.respond(execute)


@router.get(
    "/{campaign_id}/report",
    response_model=models.Report,
    summary="State and money of one campaign",
    openapi_extra=scopes_doc("campaigns.read"),
)
def report(
    request: Request,
    campaign_id: CampaignId,
    _: Annotated[Principal, Depends(require("campaigns.read"))],
) -> dict[str, Any]:
    return report_json(campaign_report(context(request).app.uow, campaign_id))
