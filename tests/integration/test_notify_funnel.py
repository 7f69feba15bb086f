"""A distribution's funnel on SQLite and PostgreSQL: the distributions of a campaign newest first,
and the accounts that opened an envelope after a message of it was sent (not before)."""

from __future__ import annotations

from pledge.adapters.notifications.render import Renderer
from pledge.bootstrap import App, FixedClock
from pledge.domain.notifications import Channel
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.presenters import grants_json
from pledge.usecases.grants import claim_grant, list_grants
from pledge.usecases.notify import send_distribution
from pledge.usecases.notify_deliver import deliver
from pledge.usecases.notify_funnel import campaign_funnels
from tests.integration.test_notify_distributions import CID, NOW, app  # noqa: F401 - fixture
from tests.support.notify import PUBLIC_URL

MINUTE = 60_000_000


def test_opened_counts_only_envelopes_opened_after_the_message(app: App) -> None:  # noqa: F811 - the fixture
    start = parse_instant(NOW)
    first_open = next(g for g in grants_json(list_grants(app.uow, account_id="A-cn-2"))["data"])
    claim_grant(app.uow, FixedClock(start), first_open["id"])  # before any message: not counted
    early = send_distribution(app.uow, FixedClock(start), CID, "grant_issued", (Channel.INAPP,), 0, "ops")
    later = send_distribution(
        app.uow, FixedClock(start + MINUTE), CID, "grant_expiring", (Channel.INAPP,), 0, "ops"
    )
    deliver(app.uow, FixedClock(start + 2 * MINUTE), app.wall_clock, {}, Renderer(PUBLIC_URL))
    grant = next(g for g in grants_json(list_grants(app.uow, account_id="A-cn-1"))["data"])
    claim_grant(app.uow, FixedClock(start + 3 * MINUTE), grant["id"])
    funnels = campaign_funnels(app.uow, CID)
    assert [f.record.id for f in funnels] == [later.id, early.id]
    assert [(f.counts.failed, f.counts.suppressed, f.opened) for f in funnels] == [(0, 0, 1), (0, 0, 1)]
    assert funnels[1].counts.planned == 2 and funnels[1].counts.sent == 2  # A-cn-1 and A-cn-5 still held one
