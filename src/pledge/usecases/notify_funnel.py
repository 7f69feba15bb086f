"""Per distribution of a campaign, its funnel (ADR 26): planned, sent, failed, suppressed, and the
accounts that opened an envelope of the campaign after a message of it reached them."""

from __future__ import annotations

from dataclasses import dataclass

from pledge.usecases.common import require_campaign
from pledge.usecases.notification_ports import DistributionRecord
from pledge.usecases.notify import DistributionCounts, distribution_counts
from pledge.usecases.ports import UnitOfWorkFactory

MAX_FUNNELS = 20  # the newest; older ones stay readable through `notify status`


@dataclass(frozen=True, slots=True)
class DistributionFunnel:
    """One distribution's steps: every (account, channel) decision stored is ``counts.planned``;
    ``counts.queued`` is what is still to go; ``opened`` the accounts that opened after being told."""

    record: DistributionRecord
    counts: DistributionCounts
    opened: int


def campaign_funnels(
    uow_factory: UnitOfWorkFactory, campaign_id: str, limit: int = MAX_FUNNELS
) -> list[DistributionFunnel]:
    """The newest ``limit`` distributions, each with its counts."""
    funnels = []
    with uow_factory() as uow:
        require_campaign(uow, campaign_id)
        for record in uow.notifications.distributions(campaign_id, limit):
            counts = distribution_counts(uow.notifications.counts(record.id))
            funnels.append(
                DistributionFunnel(record, counts, uow.notifications.opened_after(record.id, campaign_id))
            )
    return funnels
