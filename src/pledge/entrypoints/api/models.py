"""Response shapes, as published in docs/openapi.json.

They name the fields clients may rely on (CONTRACT.md) and allow more: use
cases add fields freely, and adding is never a breaking change. Those of plans,
quotes, subscriptions and compensation are in :mod:`pledge.entrypoints.api.billing_models`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, authentication_error, permission_error, …")
    code: str = Field(description="Stable; scripts may rely on it.")
    message: str
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Job(Open):
    object: Literal["job"]
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: int
    result: dict[str, Any] | None
    error: ErrorDetail | None
    created: int
    updated: int


class CampaignTerms(Open):
    object: Literal["campaign_terms"] = "campaign_terms"
    id: str
    version: int
    changed: bool
    content_hash: str


class Simulation(Open):
    object: Literal["simulation"] = "simulation"
    campaign: str
    evaluated: int
    qualifying: int
    grants: int
    amount: str
    currency: str
    budget_exhausted: int
    rejections: dict[str, int]
    near_misses: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    group: str = Field(default="default", description="The promise group (ADR 15).")
    stacking: Literal["excluded", "allowed"] = "excluded"
    already_paid: int = Field(
        default=0, description="Qualifying purchases left out: another campaign of the group paid them."
    )
    already_paid_by: dict[str, int] = Field(default_factory=dict, description="already_paid per campaign.")
    paid_again_by: dict[str, int] = Field(
        default_factory=dict,
        description="With stacking allowed: qualifying purchases other campaigns of the group paid, per "
        "campaign, that this one pays again (a stacking_allowed problem says so).",
    )


class Approval(Open):
    object: Literal["approval"] = "approval"
    id: str
    version: int
    approved_by: str
    content_hash: str
    state: str
    group: str | None = Field(default=None, description="The promise group (cashback campaigns).")
    stacking: Literal["excluded", "allowed"] | None = None


class Shortfall(BaseModel):
    purchases: int = Field(description="Qualifying purchases the budget leaves unpaid.")
    missing: str = Field(description="What paying them all would take on top of the budget.")
    budget: str
    currency: str


class CampaignState(Open):
    object: Literal["campaign_state"] = "campaign_state"
    id: str
    state: str
    accepted_shortfall: Shortfall | None = Field(
        default=None, description="At launch: the shortfall acknowledged with accept_shortfall."
    )


class Report(Open):
    object: Literal["campaign_report"] = "campaign_report"
    id: str
    state: str
    currency: str
    budget: str | None = Field(description="null for an offer campaign (it has no budget)")
    issued_amount: str
    claimed_amount: str
    expired_amount: str
    paid_amount: str = Field(description="paid out to customers: succeeded transfers")
    in_transit_amount: str = Field(description="sent to a payout rail, not yet paid")
    failed_amount: str = Field(description="transfers failed for good, cancelled, or returned to the budget")
    budget_remaining: str | None = Field(description="null for an offer campaign")
    grants: dict[str, int]


class Eligibility(Open):
    object: Literal["eligibility"] = "eligibility"
    account_id: str
    campaign: str
    qualifies: bool
    purchases: list[dict[str, Any]]


class Grant(Open):
    object: Literal["grant"] = "grant"
    id: str
    campaign: str
    account_id: str
    purchase_id: str
    amount: str
    currency: str
    state: str
    issued_at: str
    expires_at: str
    claimed_at: str | None
    revoked_reason: str | None = Field(
        default=None, description="Why the grant was revoked (purchase_returned, …, or support's reason)."
    )
    revoked_at: str | None = None
    tier: str | None = Field(
        default=None, description="The campaign's tier the purchase fell in (tiered campaigns only)."
    )


class Clawback(Open):
    """An opened grant whose purchase stopped qualifying: the customer owes its amount back."""

    object: Literal["clawback"] = "clawback"
    id: str
    grant_id: str
    campaign: str
    account_id: str
    purchase_id: str
    amount: str
    currency: str
    reason: str
    state: str = Field(description="open")
    created_at: str


class ListBase(Open):
    object: Literal["list"] = "list"
    has_more: bool
    url: str


class GrantList(ListBase):
    data: list[Grant]


class ClawbackList(ListBase):
    data: list[Clawback]


class Expired(Open):
    object: Literal["grant_expiry"] = "grant_expiry"
    expired: int
    dry_run: bool = Field(description="Always false: expiring changes grants and budgets.")
    changed: int = Field(description="Grants expired by this call.")
    amounts: list[dict[str, str]]


class Purchase(Open):
    object: Literal["purchase"] = "purchase"
    id: str
    account_id: str
    sku: str
    serial: str
    purchased_at: str
    price: str
    currency: str
    status: str
    channel: str


class Account(Open):
    object: Literal["account"] = "account"
    id: str
    region: str
    registered_at: str
    purchases: list[Purchase]


class LedgerVerification(Open):
    object: Literal["ledger_verification"] = "ledger_verification"
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[str]


class AuditEntry(Open):
    object: Literal["audit_entry"] = "audit_entry"
    id: str
    seq: int
    at: str
    actor: str
    api_key_id: str
    request_id: str
    action: str
    subject: str
    before: dict[str, Any]
    after: dict[str, Any]
    hash: str


class AuditList(ListBase):
    data: list[AuditEntry]


class AuditVerification(Open):
    object: Literal["audit_verification"] = "audit_verification"
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[str]


class WebhookEndpoint(Open):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    url: str
    events: list[str]
    description: str
    enabled: bool
    created: int
    secret: str | None = Field(default=None, description="Only in the response that creates the endpoint.")


class WebhookEndpointList(ListBase):
    data: list[WebhookEndpoint]


class Event(Open):
    object: Literal["event"] = "event"
    id: str
    type: str
    created: int
    data: dict[str, Any]


class EventList(ListBase):
    data: list[Event]
