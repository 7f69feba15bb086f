"""Planning payouts: each claimed grant's split into transfers, stored before anything is sent (ADR 24).

The plan is a pure function of the grant and its terms (rail, split, zone), so planning again
after a crash plans the same transfers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.payout_transfers import Transfer as PayoutTransfer
from pledge.domain.payouts import RailLimits, default_limits, first_payout_day, plan_payout
from pledge.domain.timeutil import local_date, zone
from pledge.usecases.common import terms_of
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory

BATCH: Final = 100  # transfers per transaction: a kill -9 loses at most this many decisions


@dataclass(frozen=True, slots=True)
class PayoutCampaign:
    """A cashback campaign to pay: its terms by version; the newest sets today's limits and zone."""

    campaign_id: str
    terms: dict[int, CashbackTerms]  # by terms version
    newest: CashbackTerms

    def limits(self, rail: str) -> RailLimits:
        split = self.newest.payout
        return split.limits if split.rail == rail else default_limits(rail)

    def today(self, now_us: int) -> date:
        return local_date(now_us, zone(self.newest.timezone))


def payout_campaigns(uow: UnitOfWork, campaign_id: str | None) -> list[PayoutCampaign]:
    """The cashback campaigns to pay (one, or all), with their terms by version."""
    records = [r for r in uow.campaigns.all() if r.kind != "offer"]
    if campaign_id is not None:
        records = [r for r in records if r.campaign_id == campaign_id]
        if not records:
            raise InputError(
                f"campaign {campaign_id} is not a cashback campaign that exists",
                code="campaign_not_found",
                param="campaign",
            )
    found: list[PayoutCampaign] = []
    for record in records:
        versions = uow.campaigns.versions(record.campaign_id)
        if versions:
            terms = {v.version: terms_of(v) for v in versions}
            found.append(PayoutCampaign(record.campaign_id, terms, terms[versions[-1].version]))
    return found


def plan_payouts(uow_factory: UnitOfWorkFactory, clock: Clock, *, campaign_id: str | None = None) -> int:
    """Store the split plan of every claimed grant that has none; returns how many grants were planned.

    The plan is a pure function of the grant and its terms (rail, split, zone): planning again
    after a crash plans the same transfers. Planning a campaign holds its row lock, so two
    dispatchers never plan one grant twice. A grant below the rail's minimum is left unplanned.
    """
    now = clock.now_us()
    planned = 0
    with uow_factory() as uow:
        campaigns = payout_campaigns(uow, campaign_id)
    for campaign in campaigns:
        after = ""
        while True:
            with uow_factory() as uow:
                uow.campaigns.get(campaign.campaign_id, for_update=True)
                grants = uow.payouts.unplanned(campaign.campaign_id, after, BATCH)
                if not grants:
                    break
                records: list[PayoutRecord] = []
                for grant in grants:
                    terms = campaign.terms.get(grant.terms_version, campaign.newest)
                    assert grant.claimed_at_us is not None, "a claimed grant has its instant"
                    try:
                        plan = plan_payout(
                            grant_id=grant.id,
                            rail=terms.payout.rail,
                            amount_minor=grant.amount_minor,
                            currency=grant.currency,
                            limits=terms.payout.limits,
                            first_day=first_payout_day(grant.claimed_at_us, terms.timezone),
                        )
                    except RefusedError:
                        continue  # stays claimed and unplanned: a person must choose another way
                    planned += 1
                    uow.grants.update(grant.start_paying())
                    records.extend(
                        PayoutRecord(
                            PayoutTransfer(
                                grant.id, p.seq, 1, plan.rail, p.amount_minor, plan.currency, p.due_on
                            ),
                            grant.campaign_id,
                            grant.account_id,
                            created_at_us=now,
                            updated_at_us=now,
                        )
                        for p in plan.transfers
                    )
                uow.payouts.add_plan(records)
                uow.commit()
                after = grants[-1].id
    return planned
