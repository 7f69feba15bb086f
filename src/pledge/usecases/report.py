"""``campaign report``: state and money, from the grants and the budget.

Money is in integer minor units of the campaign's currency; ``entrypoints/report_json.py`` words it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pledge.domain.compensation import compensation_totals
from pledge.domain.corrections import ClawbackState
from pledge.domain.grant import OPENED_STATES, GrantState
from pledge.domain.payout_transfers import IN_FLIGHT_STATES, TransferState
from pledge.usecases.common import latest_version, offer_versions, require_campaign, terms_of
from pledge.usecases.ports import CampaignRecord, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ReportVersion:
    """One stored terms version; an offer's also says when it takes effect, in its own zone."""

    version: int
    content_hash: str
    author: str
    approved_by: str | None
    approved: bool
    effective_at_us: int | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class TierReport:
    """Reach and cost of one tier (ADR 34): grants issued, their amount, and how much was opened."""

    id: str
    grants: int
    amount_minor: int
    claimed_minor: int


@dataclass(frozen=True, slots=True)
class CompensationReport:
    """The compensation an offer paid on one plan (``compensation_totals``)."""

    plan: str
    terms: int
    days: int
    days_returned: int
    money_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class CampaignReport:
    """State and money of one campaign. An offer (``kind == "offer"``) has no budget and issues no
    grants: its money is zero, its budget ``None``, and it counts subscriptions and compensation."""

    id: str
    kind: str
    state: str
    currency: str
    versions: tuple[ReportVersion, ...]
    budget_minor: int | None
    issued_minor: int
    claimed_minor: int
    expired_minor: int
    revoked_minor: int
    outstanding_minor: int
    budget_remaining_minor: int | None
    grants: Mapping[str, int]
    paid_minor: int
    in_transit_minor: int
    failed_minor: int
    open_clawbacks: int = 0
    open_clawback_minor: int = 0
    tiers: tuple[TierReport, ...] = ()  # every tier of a tiered campaign's latest terms, in their order
    subscriptions: Mapping[str, int] | None = None  # offers only
    compensation: tuple[CompensationReport, ...] = ()


def offer_report(uow: UnitOfWork, record: CampaignRecord) -> CampaignReport:
    """An offer campaign: its versions, the subscriptions it sold, and the compensation it paid."""
    totals = compensation_totals(uow.subscriptions.compensation_rows(record.campaign_id))
    return CampaignReport(
        id=record.campaign_id,
        kind="offer",
        state=record.state.value,
        currency=record.currency,
        versions=tuple(
            ReportVersion(
                v.version,
                v.content_hash,
                v.author,
                v.approved_by,
                v.approved,
                v.effective_us,
                v.terms.timezone,
            )
            for v in offer_versions(uow, record.campaign_id)
        ),
        budget_minor=None,
        issued_minor=0,
        claimed_minor=0,
        expired_minor=0,
        revoked_minor=0,
        outstanding_minor=0,
        budget_remaining_minor=None,
        grants={},
        paid_minor=0,
        in_transit_minor=0,
        failed_minor=0,
        subscriptions=uow.subscriptions.state_counts(record.campaign_id),
        compensation=tuple(
            CompensationReport(
                t["plan"], t["terms"], t["days"], t["days_returned"], t["money_minor"], t["currency"]
            )
            for t in totals
        ),
    )


def campaign_report(uow_factory: UnitOfWorkFactory, campaign_id: str) -> CampaignReport:
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

    def paid_out(*states: TransferState) -> int:
        return sum(payouts.get(s.value, 0) for s in states)

    def amount(*states: GrantState) -> int:
        return sum(totals.get(s.value, (0, 0))[1] for s in states)

    funded = budget.funded_minor if budget else terms.budget_minor
    return CampaignReport(
        id=campaign_id,
        kind=record.kind,
        state=record.state.value,
        currency=record.currency,
        versions=tuple(
            ReportVersion(v.version, v.content_hash, v.author, v.approved_by, v.approved) for v in versions
        ),
        budget_minor=funded,
        issued_minor=sum(t[1] for t in totals.values()),
        claimed_minor=amount(*OPENED_STATES),
        expired_minor=amount(GrantState.EXPIRED),
        revoked_minor=amount(GrantState.REVOKED),
        outstanding_minor=amount(GrantState.ISSUED),
        budget_remaining_minor=budget.remaining_minor if budget else funded,
        grants={s.value: totals.get(s.value, (0, 0))[0] for s in GrantState},
        # Payouts of opened grants, by their transfers (ADR 27): paid, on their way, and given up
        # (failed for good, cancelled, or returned to the budget when the claim window closed).
        paid_minor=paid_out(TransferState.SUCCEEDED),
        in_transit_minor=paid_out(*IN_FLIGHT_STATES),
        failed_minor=paid_out(TransferState.FAILED, TransferState.CANCELLED, TransferState.RETURNED),
        # Opened grants whose purchase stopped qualifying: receivables for finance (ADR 14).
        open_clawbacks=clawbacks[0],
        open_clawback_minor=clawbacks[1],
        tiers=_tiers(terms.tier_ids(), by_tier),
    )


def _tiers(tier_ids: list[str], by_tier: dict[tuple[str, str], tuple[int, int]]) -> tuple[TierReport, ...]:
    """Every tier of the latest terms, in their order, then any tier only older grants name."""
    if not tier_ids:
        return ()
    opened = {s.value for s in OPENED_STATES}
    out = []
    for tier in [*tier_ids, *sorted({t for t, _ in by_tier} - set(tier_ids))]:
        rows = {state: v for (t, state), v in by_tier.items() if t == tier}
        out.append(
            TierReport(
                tier,
                sum(n for n, _ in rows.values()),
                sum(a for _, a in rows.values()),
                sum(a for s, (_, a) in rows.items() if s in opened),
            )
        )
    return tuple(out)
