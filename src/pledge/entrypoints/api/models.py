"""Response shapes, as published in docs/openapi.json.

They name the fields clients may rely on (CONTRACT.md) and allow more: use
cases add fields freely, and adding is never a breaking change.
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


# -- scenario B: plans, quotes, subscriptions, compensation ---------------------------------------


class Plan(Open):
    object: Literal["plan"] = "plan"
    id: str
    name: str
    list_price: str
    currency: str
    period: str


class PlanList(ListBase):
    data: list[Plan]
    catalog_version: int | None = Field(description="null before the first `POST /v1/plans`")
    currency: str | None


class CatalogApplied(Open):
    object: Literal["catalog"] = "catalog"
    version: int
    changed: bool
    changes: list[str]
    plans: list[Plan]


class Quote(Open):
    object: Literal["quote"] = "quote"
    account_id: str
    plan: str
    price: str
    list_price: str
    currency: str
    starts_at: str
    ends_at: str
    first_term: str
    campaign: str | None
    terms_version: int | None
    offer: str | None
    renewal_price: str
    renewal_period: str
    auto_renew: bool
    breakdown: str


class Consent(Open):
    auto_renew: bool
    actor: str
    at: str
    wording_version: str
    wording: str


class SubscriptionTerm(Open):
    object: Literal["subscription_term"] = "subscription_term"
    id: str
    account_id: str
    plan: str
    kind: str
    price_paid: str
    list_price: str
    currency: str
    starts_at: str
    ends_at: str
    days: int
    campaign: str | None
    terms_version: int | None
    auto_renew: bool
    state: str
    compensated_days: int
    refunded: str
    previous_term_id: str | None
    consents: list[Consent] | None = Field(
        default=None, description="Who turned auto-renew on or off, when, and the wording shown."
    )


class SubscriptionList(ListBase):
    data: list[SubscriptionTerm]


class SubscriptionRefund(Open):
    object: Literal["subscription_refund"] = "subscription_refund"
    refunded: str
    charged: str
    net_refund: str
    currency: str
    compensation_days_returned: int = Field(
        default=0, description="Compensation days the refund took back (unused ones, or all on a repurchase)"
    )
    subscription: SubscriptionTerm = Field(description="The refunded term, or the repurchased one")
    refunded_term: SubscriptionTerm | None = Field(default=None, description="With repurchase: the old term")


class CompensationItem(Open):
    subscription_id: str
    account_id: str
    plan: str
    terms_version: int
    to_version: int
    policy: str
    extra_days: int
    old_ends_at: str
    new_ends_at: str
    paid: str
    new_price: str
    days_paid_for: int
    days_under_new_terms: int
    explanation: str


class CompensationTotal(Open):
    plan: str
    terms: int
    days: int = Field(description="Compensation days customers still hold")
    days_returned: int | None = Field(
        default=None, description="In a report: compensation days refunds took back"
    )
    money_equivalent: str
    currency: str


class Compensation(Open):
    object: Literal["compensation_run"] = "compensation_run"
    campaign: str
    to_version: int
    approved_by: str
    policy: str
    dry_run: bool = Field(description="true: nothing was changed, the items are what would be applied.")
    applied: int
    changed: int = Field(description="Terms extended by this call: 0 on a dry run.")
    items: list[CompensationItem]
    skipped: dict[str, int] = Field(description="Terms not compensated, by reason (campaign-wide)")
    totals: list[CompensationTotal]
    account_id: str | None = Field(default=None, description="Set when the dry run was for one account")
