"""``explain``: for one account, every purchase, every condition, with the deciding values.

This path evaluates the rule in-process (CEL), one customer at a time; the
batch path evaluates the same conditions in SQL, and tests prove they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import NotFoundError, RefusedError
from pledge.domain.grant import OPENED_STATES, Grant
from pledge.domain.money import format_minor
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules.ast import fields_of
from pledge.domain.rules.schema import values_of
from pledge.domain.timeutil import format_instant
from pledge.usecases.common import effective_version, latest_version, require_campaign, terms_of
from pledge.usecases.corrections import clawback_json, grant_note
from pledge.usecases.grants import grant_json
from pledge.usecases.payout_listing import payout_json
from pledge.usecases.ports import CompiledRule, RuleCompiler, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.why import why_no_grant


def _show(name: str, value: str | int, currency: str, tz: ZoneInfo) -> str:
    """A deciding value as people read it: instants in the campaign's zone, money in major units."""
    if name.endswith("_at"):
        return f"{name} = {format_instant(int(value), tz)}"
    if name == "purchase.price":
        return f"{name} = {format_minor(int(value), currency)} {currency}"
    return f"{name} = {value!r}"


def _tier_of(terms: CashbackTerms, purchase: PurchaseRecord) -> dict[str, Any]:
    """Tiered terms (ADR 34): which tier the purchase falls in and what that tier pays for it."""
    if not terms.tiers:
        return {}
    at_us = purchase.purchased_at_us
    tier = terms.benefit.tier_of(at_us)
    earns = terms.benefit.amount_minor(purchase.price_minor, at_us)
    return {"tier": tier, "tier_amount": format_minor(earns, terms.currency) if tier else None}


def _tier_detail(found: dict[str, Any], currency: str) -> str:
    """``_tier_of``'s facts as words for the condition's detail."""
    if not found:
        return ""
    if found["tier"] is None:
        return "; in no tier"
    return f"; tier {found['tier']} ({found['tier_amount']} {currency})"


def _qualifies(
    compiled: CompiledRule, terms: CashbackTerms, purchase: PurchaseRecord, account: AccountRecord
) -> bool:
    return terms.window.contains(purchase.purchased_at_us) and all(
        compiled.evaluate_conditions(values_of(purchase, account))
    )


def explain_account(
    uow_factory: UnitOfWorkFactory, rules: RuleCompiler, account_id: str, campaign_id: str
) -> dict[str, Any]:
    with uow_factory(read_only=True) as uow:
        require_campaign(uow, campaign_id)
        try:
            version = effective_version(uow, campaign_id)
        except RefusedError:  # nothing approved yet: explain against the draft terms
            version = latest_version(uow, campaign_id)
        terms = terms_of(version)
        account, purchases = uow.purchases.of_account(account_id)
        if account is None:
            raise NotFoundError(
                f"account {account_id} does not exist", code="account_not_found", param="account"
            )
        grants = uow.grants.for_purchases(campaign_id, [p.purchase_id for p in purchases])
        cases = uow.corrections.clawbacks_of_grants([g.id for g in grants.values()])
        plans = {g.id: uow.payouts.of_grant(g.id) for g in grants.values() if g.state in OPENED_STATES}
        compiled = rules(terms.rule)
        why = _why_unpaid(uow, compiled, terms, account, purchases, grants)
    out = []
    for purchase in purchases:
        conditions = _conditions(compiled, terms, purchase, account)
        qualifies = all(c["passed"] for c in conditions)
        grant = grants.get(purchase.purchase_id)
        entry: dict[str, Any] = {
            "purchase_id": purchase.purchase_id,
            "qualifies": qualifies,
            "conditions": conditions,
            "grant": grant_json(grant) if grant else None,
        }
        if purchase.purchase_id in why:
            entry["why_no_grant"] = why[purchase.purchase_id]
        elif grant is not None:
            note = grant_note(grant, qualifies, version.version, cases.get(grant.id))
            if note:
                entry["note"] = note
        if grant is not None and grant.id in cases:
            entry["clawback"] = clawback_json(cases[grant.id])
        if grant is not None and plans.get(grant.id):
            # The payout plan and where each transfer is (ADR 24, 27).
            entry["payout"] = [
                {k: t[k] for k in ("id", "amount", "due_on", "state", "attempt", "reason")}
                for t in map(payout_json, plans[grant.id])
            ]
        out.append(entry)
    return {
        "account_id": account_id,
        "campaign": campaign_id,
        "terms_version": version.version,
        "region": account.region,
        "qualifies": any(p["qualifies"] for p in out),
        "purchases": out,
    }


def _why_unpaid(
    uow: UnitOfWork,
    compiled: CompiledRule,
    terms: CashbackTerms,
    account: AccountRecord,
    purchases: list[PurchaseRecord],
    grants: Mapping[str, Grant],
) -> dict[str, dict[str, Any]]:
    """Why each qualifying purchase without a grant has none, by purchase id."""
    unpaid = [p for p in purchases if p.purchase_id not in grants and _qualifies(compiled, terms, p, account)]

    def qualifies_elsewhere(purchase_id: str, owner: str) -> bool:
        other, bought = uow.purchases.of_account(owner)
        found = next((p for p in bought if p.purchase_id == purchase_id), None)
        return other is not None and found is not None and _qualifies(compiled, terms, found, other)

    return why_no_grant(uow, terms, unpaid, qualifies_elsewhere)


def _conditions(
    compiled: CompiledRule, terms: CashbackTerms, purchase: PurchaseRecord, account: AccountRecord
) -> list[dict[str, Any]]:
    """The purchase window first, then each condition of the rule: passed, and the deciding values."""
    window, tz = terms.window, terms.window.tz
    distance = window.distance_days(purchase.purchased_at_us)
    when = format_instant(purchase.purchased_at_us, tz)
    tier = _tier_of(terms, purchase)
    conditions = [
        {
            "name": "purchased",
            "passed": window.contains(purchase.purchased_at_us),
            "detail": (
                f"purchased {when} (local date in {terms.timezone}); window {window.first}..{window.last}"
                + ("" if distance == 0 else f"; {distance} day(s) outside")
                + _tier_detail(tier, terms.currency)
            ),
            # The same facts, for pages that word them in the reader's language.
            "purchased_at": when,
            "window": {"from": window.first.isoformat(), "to": window.last.isoformat()},
            "days_outside": distance,
            "timezone": terms.timezone,
            **tier,
        }
    ]
    values = values_of(purchase, account)
    results = compiled.evaluate_conditions(values)
    for condition, passed in zip(compiled.rule.conditions, results, strict=True):
        detail = "; ".join(_show(n, values[n], purchase.currency, tz) for n in fields_of(condition.node))
        conditions.append({"name": condition.name, "passed": passed, "detail": detail})
    return conditions
