"""``explain``, why a purchase has no grant, and the console's campaign views, as JSON.

The CLI (``--json`` and the human lines), the API (``/v1/accounts/{id}/eligibility``) and the
console's pages (campaign list and detail, support's account page, a customer's ``/me``) all read
these views, so what each shows is the same.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any
from zoneinfo import ZoneInfo

from pledge.domain.money import format_minor
from pledge.domain.rules.schema import Value
from pledge.domain.timeutil import format_instant, zone
from pledge.entrypoints.report_json import report_json
from pledge.usecases.corrections import clawback_json
from pledge.usecases.explain import ConditionCheck, Explanation, PurchaseExplanation, WindowCheck
from pledge.usecases.grants import grant_json
from pledge.usecases.insights import CampaignDetail, CampaignSummary
from pledge.usecases.payout_listing import payout_json
from pledge.usecases.why import (
    AlreadyPaid,
    BudgetExhausted,
    BudgetExhaustedUnplaced,
    EarnsNothing,
    NoGrantReason,
    NotYetIssued,
    PerAccountTaken,
    PerSerialTaken,
)


def campaign_summary_json(summary: CampaignSummary) -> dict[str, Any]:
    """A row of the console's campaign list: the campaign's report with its kind and name."""
    return {**report_json(summary.report), "kind": summary.kind, "name": summary.name}


def campaign_detail_json(detail: CampaignDetail) -> dict[str, Any]:
    """The console's campaign page: every terms version with its approval, and the history."""
    return {
        "id": detail.id,
        "kind": detail.kind,
        "state": detail.state.value,
        "currency": detail.currency,
        "launched": detail.launched,
        "versions": [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "author": v.author,
                "created_at": format_instant(v.created_at_us),
                "approved_by": v.approved_by,
                "approved_at": None if v.approved_at_us is None else format_instant(v.approved_at_us),
                "approved": v.approved,
                "document": dict(v.document),
            }
            for v in detail.versions
        ],
        "events": [
            {"kind": e.kind, "actor": e.actor, "at": format_instant(e.at_us), "detail": e.detail}
            for e in detail.events
        ],
    }


def explanation_json(explained: Explanation) -> dict[str, Any]:
    """``pledge explain`` (``--json`` and its table), the API's eligibility (after its ``object``),
    support's account page and a customer's ``/me``."""
    return {
        "account_id": explained.account_id,
        "campaign": explained.campaign,
        "terms_version": explained.terms_version,
        "region": explained.region,
        "qualifies": explained.qualifies,
        "purchases": [_purchase_json(p) for p in explained.purchases],
    }


def _purchase_json(purchase: PurchaseExplanation) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "purchase_id": purchase.purchase_id,
        "qualifies": purchase.qualifies,
        "conditions": [_window_json(purchase.window)] + [_condition_json(c) for c in purchase.conditions],
        "grant": grant_json(purchase.grant) if purchase.grant else None,
    }
    if purchase.why_no_grant is not None:
        shown["why_no_grant"] = why_no_grant_json(purchase.why_no_grant)
    elif purchase.note:
        shown["note"] = purchase.note
    if purchase.clawback is not None:
        shown["clawback"] = clawback_json(purchase.clawback)
    if purchase.payout:
        shown["payout"] = [
            {k: t[k] for k in ("id", "amount", "due_on", "state", "attempt", "reason")}
            for t in map(payout_json, purchase.payout)
        ]
    return shown


def _window_json(window: WindowCheck) -> dict[str, Any]:
    """The window as a condition: words for its detail, and the same facts for pages that word them
    in the reader's language."""
    when = format_instant(window.purchased_at_us, zone(window.timezone))
    tier: dict[str, Any] = {}
    detail = f"purchased {when} (local date in {window.timezone}); window {window.first}..{window.last}"
    if window.days_outside:
        detail += f"; {window.days_outside} day(s) outside"
    if window.tier is not None:
        amount = format_minor(window.tier.amount_minor, window.currency) if window.tier.tier else None
        tier = {"tier": window.tier.tier, "tier_amount": amount}
        detail += (
            f"; tier {window.tier.tier} ({amount} {window.currency})" if window.tier.tier else "; in no tier"
        )
    return {
        "name": "purchased",
        "passed": window.passed,
        "detail": detail,
        "purchased_at": when,
        "window": {"from": window.first.isoformat(), "to": window.last.isoformat()},
        "days_outside": window.days_outside,
        "timezone": window.timezone,
        **tier,
    }


def _condition_json(condition: ConditionCheck) -> dict[str, Any]:
    tz = zone(condition.timezone)
    detail = "; ".join(_show(n, v, condition.currency, tz) for n, v in condition.values)
    return {"name": condition.name, "passed": condition.passed, "detail": detail}


def _show(name: str, value: Value, currency: str, tz: ZoneInfo) -> str:
    """A deciding value as people read it: instants in the campaign's zone, money in major units."""
    if name.endswith("_at"):
        return f"{name} = {format_instant(int(value), tz)}"
    if name == "purchase.price":
        return f"{name} = {format_minor(int(value), currency)} {currency}"
    return f"{name} = {value!r}"


@singledispatch
def why_no_grant_json(reason: NoGrantReason) -> dict[str, Any]:
    """Why a qualifying purchase has no grant: ``code``, the facts, and ``message`` last."""
    raise TypeError(f"not a reason: {reason!r}")


@why_no_grant_json.register
def _(reason: EarnsNothing) -> dict[str, Any]:
    price = format_minor(reason.price_minor, reason.currency)
    return {
        "code": "earns_nothing",
        "message": f"the amount for a price paid of {price} {reason.currency} is zero: nothing to grant",
    }


@why_no_grant_json.register
def _(reason: AlreadyPaid) -> dict[str, Any]:
    return {
        "code": "already_paid",
        "campaign": reason.campaign,
        "message": f"already paid by campaign {reason.campaign} of the same promise group "
        "(stacking is not allowed)",
    }


@why_no_grant_json.register
def _(reason: PerAccountTaken) -> dict[str, Any]:
    elsewhere = reason.paid_elsewhere
    named = ", ".join(
        p + (f" (paid by campaign {elsewhere[p]})" if p in elsewhere else "") for p in reason.purchases
    )
    return {
        "code": "per_account",
        "limit": reason.limit,
        "purchases": list(reason.purchases),
        "message": f"the limit per account ({reason.limit}) was taken by purchase {named}",
    }


@why_no_grant_json.register
def _(reason: PerSerialTaken) -> dict[str, Any]:
    named = ", ".join(
        f"{g.purchase_id} (of account {g.account_id}"
        + ("" if g.paid_by is None else f", paid by campaign {g.paid_by}")
        + ")"
        for g in reason.taken
    )
    return {
        "code": "per_serial",
        "limit": reason.limit,
        "serial": reason.serial,
        "purchases": [g.purchase_id for g in reason.taken],
        "accounts": [g.account_id for g in reason.taken],
        "message": f"the limit per serial {reason.serial} ({reason.limit}) was taken by purchase {named}",
    }


@why_no_grant_json.register
def _(reason: BudgetExhaustedUnplaced) -> dict[str, Any]:
    return {
        "code": "budget_exhausted",
        "message": f"the budget ran out at the last run: {reason.left_out:,} qualifying purchases "
        "got nothing",
    }


@why_no_grant_json.register
def _(reason: BudgetExhausted) -> dict[str, Any]:
    when = format_instant(reason.purchased_at_us, zone(reason.timezone))
    return {
        "code": "budget_exhausted",
        "position": reason.position,
        "of": reason.of,
        "purchase_id": reason.purchase_id,
        "message": (
            f"the budget ran out at purchase {reason.position:,} of {reason.of:,} in issuance "
            f"order ({reason.purchase_id}, bought {when}); this purchase comes at or after it"
        ),
    }


@why_no_grant_json.register
def _(reason: NotYetIssued) -> dict[str, Any]:
    if not reason.launched:
        return {"code": "not_launched", "message": "not yet issued: the campaign has not been launched"}
    if not reason.ever_run:
        return {"code": "not_yet_run", "message": "not yet issued: the campaign has not run yet"}
    return {
        "code": "not_yet_run",
        "message": "not yet issued: the campaign has not run since this purchase was imported",
    }
