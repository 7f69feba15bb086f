"""Per distribution of a campaign, its funnel (ADR 26): planned, sent, failed, suppressed, and the
accounts that opened an envelope of the campaign after a message of it reached them."""

from __future__ import annotations

from typing import Any

from pledge.domain.distributions import STATUS_KEYS
from pledge.domain.timeutil import format_instant
from pledge.usecases.common import require_campaign
from pledge.usecases.ports import UnitOfWorkFactory

MAX_FUNNELS = 20  # the newest; older ones stay readable through `notify status`


def campaign_funnels(
    uow_factory: UnitOfWorkFactory, campaign_id: str, limit: int = MAX_FUNNELS
) -> list[dict[str, Any]]:
    """The newest ``limit`` distributions, each with its counts: every (account, channel) decision
    stored is ``planned``; ``queued`` is what is still to go."""
    funnels = []
    with uow_factory() as uow:
        require_campaign(uow, campaign_id)
        for record in uow.notifications.distributions(campaign_id, limit):
            counts = uow.notifications.counts(record.id)
            by_key = {key: sum(counts.get(s, 0) for s in states) for key, states in STATUS_KEYS.items()}
            funnels.append(
                {
                    "id": record.id,
                    "kind": record.kind,
                    "template": record.template,
                    "state": record.state.value,
                    "created_at": format_instant(record.created_at_us),
                    "planned": sum(counts.values()),
                    **by_key,
                    "opened": uow.notifications.opened_after(record.id, campaign_id),
                }
            )
    return funnels
