"""``campaign report``: state and money, from the grants and the budget."""

from __future__ import annotations

from typing import Any

from pledge.domain.compensation import compensation_totals
from pledge.domain.corrections import ClawbackState
from pledge.domain.grant import OPENED_STATES, GrantState
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import IN_FLIGHT_STATES, TransferState
from pledge.domain.timeutil import format_instant, zone
from pledge.usecases.common import latest_version, offer_versions, require_campaign, terms_of
from pledge.usecases.ports import CampaignRecord, UnitOfWork, UnitOfWorkFactory


def offer_report(uow: UnitOfWork, record: CampaignRecord) -> dict[str, Any]:
    """An offer campaign: its versions, the subscriptions it sold, and the compensation it paid."""
    totals = compensation_totals(uow.subscriptions.compensation_rows(record.campaign_id))
    return {
        "id": record.campaign_id,
        "kind": "offer",
        "state": record.state.value,
        "currency": record.currency,
        "versions": [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "author": v.author,
                "approved_by": v.approved_by,
                "approved": v.approved,
                "effective_at": format_instant(v.effective_us, zone(v.terms.timezone)),
            }
            for v in offer_versions(uow, record.campaign_id)
        ],
        # The cashback keys of the contract, true for an offer: it has no budget and issues no grants.
        "budget": None,
        "issued_amount": format_minor(0, record.currency),
        "claimed_amount": format_minor(0, record.currency),
        "expired_amount": format_minor(0, record.currency),
        "paid_amount": format_minor(0, record.currency),
        "in_transit_amount": format_minor(0, record.currency),
        "failed_amount": format_minor(0, record.currency),
        "budget_remaining": None,
        "grants": {},
        "subscriptions": uow.subscriptions.state_counts(record.campaign_id),
        "compensation": [
            {
                "plan": t["plan"],
                "terms": t["terms"],
                "days": t["days"],
                "days_returned": t["days_returned"],
                "money_equivalent": format_minor(t["money_minor"], t["currency"]),
                "currency": t["currency"],
            }
            for t in totals
        ],
    }


def campaign_report(uow_factory: UnitOfWorkFactory, campaign_id: str) -> dict[str, Any]:
    with uow_factory(read_only=True) as uow:
        record = require_campaign(uow, campaign_id)
        if record.kind == "offer":
            return offer_report(uow, record)
        versions = uow.campaigns.versions(campaign_id)
        terms = terms_of(latest_version(uow, campaign_id))
        budget = uow.budgets.get(campaign_id)
        totals = uow.grants.totals(campaign_id)
        by_tier = uow.grants.tier_totals(campaign_id) if terms.tiers else {}
        clawbacks = uow.corrections.clawback_totals(campaign_id).get(ClawbackState.OPEN.value, (0, 0))
        payouts = uow.payouts.campaign_totals(campaign_id)
    cur = record.currency

    def paid_out(*states: TransferState) -> str:
        return format_minor(sum(payouts.get(s.value, 0) for s in states), cur)

    def amount(*states: GrantState) -> int:
        return sum(totals.get(s.value, (0, 0))[1] for s in states)

    funded = budget.funded_minor if budget else terms.budget_minor
    return {
        "id": campaign_id,
        "state": record.state.value,
        "currency": cur,
        "versions": [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "author": v.author,
                "approved_by": v.approved_by,
                "approved": v.approved,
            }
            for v in versions
        ],
        "budget": format_minor(funded, cur),
        "issued_amount": format_minor(sum(t[1] for t in totals.values()), cur),
        "claimed_amount": format_minor(amount(*OPENED_STATES), cur),
        "expired_amount": format_minor(amount(GrantState.EXPIRED), cur),
        "revoked_amount": format_minor(amount(GrantState.REVOKED), cur),
        "outstanding_amount": format_minor(amount(GrantState.ISSUED), cur),
        "budget_remaining": format_minor(budget.remaining_minor if budget else funded, cur),
        "grants": {s.value: totals.get(s.value, (0, 0))[0] for s in GrantState},
        # Payouts of opened grants, by their transfers (ADR 27): paid, on their way, and given up
        # (failed for good, cancelled, or returned to the budget when the claim window closed).
        "paid_amount": paid_out(TransferState.SUCCEEDED),
        "in_transit_amount": paid_out(*IN_FLIGHT_STATES),
        "failed_amount": paid_out(TransferState.FAILED, TransferState.CANCELLED, TransferState.RETURNED),
        # Opened grants whose purchase stopped qualifying: receivables for finance (ADR 14).
        "clawbacks": {"open": clawbacks[0], "open_amount": format_minor(clawbacks[1], cur)},
        **_tiers(terms.tier_ids(), by_tier, cur),
    }


def _tiers(tier_ids: list[str], by_tier: dict[tuple[str, str], tuple[int, int]], cur: str) -> dict[str, Any]:
    """Reach and cost per tier of a tiered campaign (ADR 34): grants issued, their amount, and how
    much of it was opened; every tier of the latest terms, in their order."""
    if not tier_ids:
        return {}
    opened = {s.value for s in OPENED_STATES}
    out: dict[str, Any] = {}
    for tier in [*tier_ids, *sorted({t for t, _ in by_tier} - set(tier_ids))]:
        rows = {state: v for (t, state), v in by_tier.items() if t == tier}
        out[tier] = {
            "grants": sum(n for n, _ in rows.values()),
            "amount": format_minor(sum(a for _, a in rows.values()), cur),
            "claimed_amount": format_minor(sum(a for s, (_, a) in rows.items() if s in opened), cur),
        }
    return {"tiers": out}
