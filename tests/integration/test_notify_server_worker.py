"""A running server delivers notifications by itself (ADR 26), on SQLite and PostgreSQL: a distribution
held then due reaches a real SMTP server on loopback without anyone running ``notify deliver``; before
the hold ends nothing leaves, and a server with the worker off sends nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from pledge.domain.notifications import Channel
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.notify import distribution_status, send_distribution
from tests.integration.test_api_support import Api, running_api
from tests.support.data import campaign
from tests.support.notify import Servers, account_records, servers
from tests.unit.test_usecases import purchase_records, rules

CID = "founders-refund"
MINUTE = 60_000_000


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    with servers() as s:
        for name, value in s.env.items():
            monkeypatch.setenv(name, value)
        yield s


def _launched(api: Api) -> None:
    app = api.app
    import_accounts(app.uow, [account_records()])
    import_purchases(app.uow, [purchase_records()])
    apply_campaign(app.uow, rules, app.clock, campaign(), "ops")
    approve_campaign(app.uow, rules, app.clock, CID, "finance")
    launch_campaign(app.uow, rules, app.clock, CID, "finance")
    run_campaign(app.uow, rules, app.clock, CID, "ops")


def _wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the server's worker did not deliver in time"
        time.sleep(0.05)


def test_a_held_distribution_is_sent_by_the_running_server_once_due(db_url: str, world: Servers) -> None:
    with running_api(db_url, notify_worker=True, notify_interval_s=0.1) as api:
        _launched(api)
        sent = send_distribution(
            api.app.uow, api.clock, CID, "grant_issued", (Channel.EMAIL,), 10 * MINUTE, "ops"
        )
        assert sent.state == "held" and sent.counts.recipients == 2
        time.sleep(0.5)  # several passes inside the hold
        assert world.mailbox.received == []
        api.clock.instant_us += 11 * MINUTE  # the hold has passed
        _wait_for(lambda: len(world.mailbox.received) == 2)
        time.sleep(0.5)  # more passes: nothing is sent twice
        status = distribution_status(api.app.uow, sent.id)
    assert len(world.mailbox.received) == 2
    assert len({m["Message-ID"] for m in world.mailbox.received}) == 2
    assert status.counts.sent == 2 and status.counts.queued == 0


def test_with_the_worker_off_nothing_leaves(db_url: str, world: Servers) -> None:
    with running_api(db_url, notify_worker=False) as api:
        _launched(api)
        send_distribution(api.app.uow, api.clock, CID, "grant_issued", (Channel.EMAIL,), 0, "ops")
        time.sleep(0.5)
    assert world.mailbox.received == []


def test_without_a_public_url_the_worker_says_so_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PLEDGE_PUBLIC_URL", raising=False)
    with (
        caplog.at_level("WARNING", logger="pledge.notify"),
        running_api(db_url, notify_worker=True, notify_interval_s=0.05),
    ):
        time.sleep(0.5)  # about ten passes
    warnings = [r for r in caplog.records if r.name == "pledge.notify"]
    assert len(warnings) == 1 and "PLEDGE_PUBLIC_URL" in warnings[0].getMessage()
