"""Scopes and the permissions each grants: the one table the API, the console and the CLI check.

Kept free of the web framework so that the command line can check a key's
scope (approve, launch) without loading the API stack.
"""

from __future__ import annotations

ADMIN, APPROVER, OPERATOR, SUPPORT, FINANCE, CUSTOMER = (
    "admin",
    "approver",
    "operator",
    "support",
    "finance",
    "customer",
)

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "campaigns.write": (ADMIN,),
    "campaigns.simulate": (ADMIN, APPROVER, OPERATOR, FINANCE),
    "campaigns.approve": (APPROVER,),
    "campaigns.operate": (OPERATOR,),
    "campaigns.read": (ADMIN, APPROVER, OPERATOR, FINANCE, SUPPORT),
    "data.import": (ADMIN, OPERATOR),
    "data.read": (ADMIN, OPERATOR, SUPPORT, CUSTOMER),
    "eligibility.read": (ADMIN, OPERATOR, SUPPORT, CUSTOMER),
    "grants.read": (ADMIN, OPERATOR, SUPPORT, FINANCE, CUSTOMER),
    "grants.claim": (CUSTOMER,),
    "grants.expire": (OPERATOR,),
    "grants.revoke": (OPERATOR, SUPPORT),  # an unopened grant, with a reason (ADR 14)
    "grants.reinstate": (OPERATOR, SUPPORT),  # an expired grant; two persons above the campaign's amount
    "claims.submit": (SUPPORT, CUSTOMER),  # a purchase missing from the records (ADR 28)
    "claims.read": (ADMIN, OPERATOR, SUPPORT, FINANCE, CUSTOMER),  # a customer: their own claims
    "claims.decide": (OPERATOR, SUPPORT),  # never one's own claim; two persons above review_above
    "clawbacks.read": (ADMIN, OPERATOR, SUPPORT, FINANCE),
    "payouts.read": (ADMIN, OPERATOR, SUPPORT, FINANCE),  # transfers, their failures, reconciliation
    "ledger.read": (ADMIN, FINANCE),
    "audit.read": (ADMIN, FINANCE),
    "jobs.read": (ADMIN, OPERATOR, FINANCE),  # and always the key that created the job
    "webhooks.manage": (ADMIN,),
    "events.read": (ADMIN, FINANCE),
    # Scenario B: plans, quotes, subscriptions, compensation.
    "plans.write": (ADMIN,),
    "plans.read": (ADMIN, APPROVER, OPERATOR, SUPPORT, FINANCE, CUSTOMER),
    "quotes.read": (ADMIN, SUPPORT, CUSTOMER),
    "subscriptions.buy": (ADMIN, SUPPORT, CUSTOMER),
    "subscriptions.read": (ADMIN, OPERATOR, SUPPORT, FINANCE, CUSTOMER),
    "subscriptions.auto_renew": (SUPPORT, CUSTOMER),  # the customer's own choice, or support on their behalf
    "subscriptions.refund": (SUPPORT,),
    "subscriptions.renew": (OPERATOR,),
    "compensation.preview": (ADMIN, APPROVER, OPERATOR, FINANCE, SUPPORT),  # dry runs
    "compensation.apply": (OPERATOR,),
    "compensation.apply_one": (OPERATOR, SUPPORT),  # one customer, by customer service
}


def scope_refusal(scope: str, permission: str) -> str | None:
    """Why a key of ``scope`` may not do what ``permission`` guards, or None if it may."""
    scopes = PERMISSIONS[permission]
    if scope in scopes:
        return None
    return f"a {scope} key may not do this (needs one of: {', '.join(scopes)})"
