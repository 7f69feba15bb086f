"""Distributions on SQLite and PostgreSQL against a real loopback SMTP server and the fake SMS
gateway: plan reasons, hold then cancel, deliver once, re-run, two concurrent workers, reminders."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock, notification_renderer, notification_senders
from pledge.domain.notifications import Channel, Purpose, Reason
from pledge.domain.records import AccountRecord
from pledge.domain.timeutil import parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.notify import (
    cancel_distribution,
    distribution_status,
    plan_distribution,
    send_distribution,
)
from pledge.usecases.notify_deliver import DeliveryRun, deliver
from pledge.usecases.notify_unsubscribe import Unsubscribed, unsubscribe
from tests.support.data import campaign
from tests.support.notify import NIGHT, NOW, Servers, account_records, servers
from tests.unit.test_usecases import purchase_records, rules

CID = "founders-refund"
ALL = (Channel.EMAIL, Channel.SMS, Channel.INAPP)
MINUTE = 60_000_000
DAY = 86_400 * 1_000_000


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = App(db_url)
    upgrade(app.engine)
    clock = FixedClock(parse_instant(NOW))
    import_accounts(app.uow, [account_records()])
    import_purchases(app.uow, [purchase_records()])
    apply_campaign(app.uow, rules, clock, campaign(), "ops")
    approve_campaign(app.uow, rules, clock, CID, "finance")
    launch_campaign(app.uow, rules, clock, CID, "finance")
    run_campaign(app.uow, rules, clock, CID, "ops")
    yield app
    app.close()


@pytest.fixture
def world() -> Iterator[Servers]:
    with servers(parse_instant(NOW)) as s:
        yield s


def at(instant: str, plus_us: int = 0) -> FixedClock:
    return FixedClock(parse_instant(instant) + plus_us)


def run_deliver(app: App, s: Servers, clock: FixedClock, **options: Any) -> DeliveryRun:
    senders = notification_senders(s.env)
    try:
        return deliver(app.uow, clock, app.wall_clock, senders, notification_renderer(s.env), **options)
    finally:
        for sender in senders.values():
            sender.close()


def test_plan_names_who_gets_what_and_who_not_and_why(app: App) -> None:
    plan = plan_distribution(app.uow, at(NOW), CID, "grant_issued", ALL)
    assert plan.counts.recipients == 3
    assert plan.counts.by_channel == {"email": 2, "sms": 1, "inapp": 3}
    assert plan.counts.suppressed[Reason.NO_CONTACT] == 3  # A-cn-2 has no phone; A-cn-5 no phone, no email
    night = plan_distribution(app.uow, at(NIGHT), CID, "grant_issued", ALL)
    assert night.counts.by_channel[Channel.SMS] == 0 and night.counts.suppressed[Reason.QUIET_HOURS] == 1


def test_hold_then_cancel_sends_nothing(app: App, world: Servers) -> None:
    sent = send_distribution(app.uow, at(NOW), CID, "grant_issued", ALL, 10 * MINUTE, "ops")
    assert sent.state == "held" and sent.counts.recipients == 3
    early = run_deliver(app, world, at(NOW, 5 * MINUTE))  # still inside the hold
    assert early.sent == 0 and world.message_ids() == []
    status = cancel_distribution(app.uow, at(NOW, 6 * MINUTE), sent.id, "ops")
    assert status.record.state == "cancelled" and status.counts.queued == 0
    later = run_deliver(app, world, at(NOW, 20 * MINUTE))
    assert later.sent == 0 and world.message_ids() == []
    assert distribution_status(app.uow, sent.id).counts.sent == 0


def test_deliver_sends_each_message_once_and_a_rerun_sends_nothing(app: App, world: Servers) -> None:
    sent = send_distribution(app.uow, at(NOW), CID, "grant_issued", ALL, 10 * MINUTE, "ops")
    first = run_deliver(app, world, at(NOW, 11 * MINUTE), batch_size=2)
    assert (first.released, first.sent, first.failed) == (1, 6, 0)
    again = run_deliver(app, world, at(NOW, 12 * MINUTE))
    assert again.sent == 0 and again.due == 0
    ids = world.message_ids()
    assert len(ids) == len(set(ids)) == 3  # 2 emails and 1 SMS; in-app messages are written
    assert world.emails_to("li@example.com") == world.emails_to("ann@example.com") == 1
    english = next(m for m in world.mailbox.received if m["To"] == "ann@example.com")
    assert "red envelope" in english["Subject"].lower() or english["Subject"]
    status = distribution_status(app.uow, sent.id)
    counts = status.counts
    assert (counts.queued, counts.sent, counts.failed, counts.suppressed) == (0, 6, 0, 3)
    # Telling the same people of the same envelopes again: already told, nobody queued.
    plan = plan_distribution(app.uow, at(NOW, 13 * MINUTE), CID, "grant_issued", ALL)
    assert plan.counts.recipients == 0 and plan.counts.suppressed[Reason.ALREADY_TOLD] == 6
    with app.uow() as uow:
        assert [m.title for m in uow.notifications.inapp("A-cn-1", 10)] != [""]


def test_an_unsubscribed_channel_is_opted_out_from_then_on(app: App, world: Servers) -> None:
    send_distribution(app.uow, at(NOW), CID, "grant_issued", (Channel.EMAIL,), 0, "ops")
    run_deliver(app, world, at(NOW))
    link = next(m for m in world.mailbox.received if m["To"] == "li@example.com")["List-Unsubscribe"]
    message_id = str(link).strip("<>").rsplit("/", 1)[-1]
    assert unsubscribe(app.uow, at(NOW), message_id) == Unsubscribed(Channel.EMAIL, Purpose.PROMOTIONAL)
    plan = plan_distribution(app.uow, at(NOW, DAY), CID, "grant_expiring", (Channel.EMAIL,))
    assert plan.counts.suppressed[Reason.OPTED_OUT] == 1 and plan.counts.by_channel[Channel.EMAIL] == 1


def test_a_bounce_fails_with_its_reason_and_a_busy_mailbox_is_retried(app: App, world: Servers) -> None:
    with app.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE accounts SET email = 'nobody@example.com' WHERE account_id = 'A-cn-1'")
        conn.exec_driver_sql("UPDATE accounts SET email = 'busy@example.com' WHERE account_id = 'A-cn-2'")
    sent = send_distribution(app.uow, at(NOW), CID, "grant_issued", (Channel.EMAIL,), 0, "ops")
    result = run_deliver(app, world, at(NOW))
    assert (result.failed, result.retry) == (1, 1)
    retried = run_deliver(app, world, at(NOW, 2 * MINUTE))  # after the first backoff
    assert retried.retry == 1  # still busy: queued again, later
    status = distribution_status(app.uow, sent.id)
    assert (status.counts.failed, status.counts.queued) == (1, 1)
    with app.engine.connect() as conn:
        reasons = dict(conn.exec_driver_sql("SELECT address, reason FROM notification_messages").all())
    assert reasons["nobody@example.com"].startswith("smtp_550")


def test_two_concurrent_workers_never_send_a_message_twice(app: App, world: Servers) -> None:
    more = [f"B{n:03d}" for n in range(40)]
    registered = parse_instant("2011-01-01T00:00:00+08:00")
    import_accounts(app.uow, [[AccountRecord(a, "CN", registered, f"{a.lower()}@example.com") for a in more]])
    rows = [(f"Q{n:03d}", a, "mi-1", f"SQ{n}", "2011-10-05T10:00:00+08:00", "10.00", "completed")
            for n, a in enumerate(more)]  # fmt: skip
    import_purchases(app.uow, [purchase_records(rows)])
    run_campaign(app.uow, rules, at(NOW), CID, "ops")
    sent = send_distribution(app.uow, at(NOW), CID, "grant_issued", (Channel.EMAIL,), 0, "ops")
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(run_deliver(app, world, at(NOW), batch_size=3))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    ids = world.message_ids()
    assert len(ids) == len(set(ids)) == 42
    assert sum(r.sent for r in results) == 42
    assert Counter(m["To"] for m in world.mailbox.received).most_common(1)[0][1] == 1
    assert distribution_status(app.uow, sent.id).counts.sent == 42


def test_reminders_go_once_per_offset_per_channel(app: App, world: Servers) -> None:
    expires = parse_instant(NOW) + 30 * DAY
    seven = FixedClock(expires - 7 * DAY + MINUTE)
    world.gateway.now_us = seven.now_us()
    first = run_deliver(app, world, seven)
    assert first.reminders_queued == 6 and first.sent == 6  # 2 emails, 1 SMS, 3 in-app
    assert run_deliver(app, world, FixedClock(seven.now_us() + MINUTE)).reminders_queued == 0
    one = FixedClock(expires - DAY + MINUTE)
    world.gateway.now_us = one.now_us()
    second = run_deliver(app, world, one)
    assert second.reminders_queued == 6 and second.sent == 6
    assert run_deliver(app, world, FixedClock(one.now_us() + MINUTE)).sent == 0
    ids = world.message_ids()
    assert len(ids) == len(set(ids)) == 6
    days = sorted(str(m["Subject"]) for m in world.mailbox.received if m["To"] == "ann@example.com")
    assert len(days) == 2


def test_a_worker_down_past_both_offsets_sends_only_the_later_one(app: App, world: Servers) -> None:
    expires = parse_instant(NOW) + 30 * DAY
    late = FixedClock(expires - DAY + MINUTE)
    world.gateway.now_us = late.now_us()
    result = run_deliver(app, world, late)
    assert result.sent == 6
    assert run_deliver(app, world, FixedClock(late.now_us() + MINUTE)).reminders_queued == 0
    assert len(world.message_ids()) == 3
