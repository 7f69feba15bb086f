"""Response shapes of plans, quotes, subscriptions and compensation, as published in docs/openapi.json.

As in :mod:`pledge.entrypoints.api.models`, they name the fields clients may rely on
(CONTRACT.md) and allow more.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pledge.entrypoints.api.models import ListBase, Open


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
