"""Subscriptions and the catalog of plans as JSON: ``pledge subscriptions|plans --json``, the API's
``/v1/subscriptions`` and ``/v1/plans`` and the console's account page (scenario B). Amounts are
formatted here from integer minor units; a term as webhooks and the audit log show it comes from
``usecases/subscriptions.py`` (``term_json``), so every surface shows one representation."""

from __future__ import annotations

from typing import Any

from pledge.domain.money import format_minor
from pledge.domain.subscriptions import Term
from pledge.usecases.catalog import AppliedCatalog, plans_json
from pledge.usecases.common import Page
from pledge.usecases.subscriptions import SubscriptionRefund, term_json


def terms_json(page: Page[Term]) -> dict[str, Any]:
    """``pledge subscriptions list --json`` and ``GET /v1/subscriptions`` (which adds its ``url``)."""
    return {"object": "list", "data": [term_json(t) for t in page.rows], "has_more": page.has_more}


def refund_json(refund: SubscriptionRefund) -> dict[str, Any]:
    """``pledge subscriptions refund --json`` and the API's refund (with its ``object``). A plain refund
    says how it was rounded; a repurchase shows the term it replaced."""
    cur = refund.currency
    shown: dict[str, Any] = {
        "refunded": format_minor(refund.refunded_minor, cur),
        "charged": format_minor(refund.charged_minor, cur),
        "net_refund": format_minor(refund.net_refund_minor, cur),
        "currency": cur,
    }
    if refund.refunded_term is None:
        shown["rounding"] = "half-even to the minor unit" if refund.prorated else None
    shown["compensation_days_returned"] = refund.compensation_days_returned
    shown["subscription"] = term_json(refund.subscription)
    if refund.refunded_term is not None:
        shown["refunded_term"] = term_json(refund.refunded_term)
    return shown


def applied_catalog_json(applied: AppliedCatalog) -> dict[str, Any]:
    """``pledge plans apply --json`` and ``POST /v1/plans`` (with ``"object": "catalog"`` first)."""
    return {
        "version": applied.version,
        "changed": applied.changed,
        "changes": list(applied.changes),
        "plans": plans_json(applied.catalog),
    }
