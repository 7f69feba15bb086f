"""Planning, suppression, holds, claims and retries of distributions, on the memory fakes; and
``grants reinstate`` through the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.notifications.render import Renderer
from pledge.domain.distributions import MAX_ATTEMPTS, MessageState, backoff_us, parse_channels, parse_hold_us
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.grant import GrantState
from pledge.domain.notifications import Channel, DeliveryResult, Outcome, Outgoing, Purpose, Reason
from pledge.usecases.grants import claim_grant, expire_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.notification_ports import MessageRecord
from pledge.usecases.notify import (
    cancel_distribution,
    distribution_status,
    plan_distribution,
    send_distribution,
)
from pledge.usecases.notify_deliver import DeliveryRun, deliver
from pledge.usecases.reinstate import reinstate_grant
from tests.support.notify import PUBLIC_URL, account_records
from tests.unit.test_usecases import (
    CID,
    CLOCK,
    LATER,
    Clock,
    World,
    grants_by_purchase,
    launch,
    purchase_records,
    rules,
)

ALL = (Channel.EMAIL, Channel.SMS, Channel.INAPP)
MINUTE = 60_000_000
NIGHT = CLOCK.instant_us + 11 * 60 * MINUTE + 30 * MINUTE  # 23:30 in Shanghai


@dataclass
class FakeChannel:
    """A provider's answers, scripted per address: the port's contract, not our code."""

    channel: Channel
    answers: dict[str, list[DeliveryResult]] = field(default_factory=dict)
    sent: list[Outgoing] = field(default_factory=list)

    def send(self, out: Outgoing) -> DeliveryResult:
        self.sent.append(out)
        scripted = self.answers.get(out.to)
        return (
            scripted.pop(0)
            if scripted
            else DeliveryResult(Outcome.SENT, provider_ref=f"ref-{len(self.sent)}")
        )

    def close(self) -> None:
        pass


def _world() -> World:
    store = MemoryStore()
    world = World(store, memory_uow_factory(store))
    import_accounts(world.uow, [account_records()])
    import_purchases(world.uow, [purchase_records()])
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    return world


def _deliver(
    world: World, at_us: int, email: FakeChannel, sms: FakeChannel | None = None, **kw: Any
) -> DeliveryRun:
    senders: dict[Channel, Any] = {Channel.EMAIL: email}
    if sms is not None:
        senders[Channel.SMS] = sms
    return deliver(world.uow, Clock(at_us), Clock(at_us), senders, Renderer(PUBLIC_URL), **kw)


def test_every_account_and_channel_gets_one_reason_in_order() -> None:
    world = _world()
    plan = plan_distribution(world.uow, CLOCK, CID, "grant_issued", ALL)
    assert (plan.counts.recipients, plan.counts.by_channel) == (3, {"email": 2, "sms": 1, "inapp": 3})
    assert plan.counts.suppressed == {
        "no_contact": 3, "opted_out": 0, "already_told": 0, "frequency_cap": 0, "quiet_hours": 0
    }  # fmt: skip
    world.store.notifications.optouts["A-cn-2"] = frozenset({(Channel.EMAIL, Purpose.PROMOTIONAL)})
    opted_out = plan_distribution(world.uow, CLOCK, CID, "grant_issued", ALL)
    assert opted_out.counts.suppressed[Reason.OPTED_OUT] == 1
    night = plan_distribution(world.uow, Clock(NIGHT), CID, "grant_issued", ALL)
    assert night.counts.suppressed[Reason.QUIET_HOURS] == 1 and night.counts.by_channel[Channel.SMS] == 0


def test_the_frequency_cap_counts_promotional_messages_of_other_distributions() -> None:
    world = _world()
    with world.uow() as uow:
        earlier = CLOCK.instant_us - MINUTE
        uow.notifications.add_messages(
            [
                MessageRecord(f"m{n}", f"d{n}", "A-cn-1", Channel.SMS, "grant_issued", Purpose.PROMOTIONAL,
                              f"other:{n}", "zh-CN", "+8613800138001", {}, MessageState.SENT, earlier,
                              earlier, sent_at_us=earlier)
                for n in range(2)
            ]
        )  # fmt: skip
        uow.commit()
    plan = plan_distribution(world.uow, CLOCK, CID, "grant_issued", (Channel.SMS,))
    assert plan.counts.suppressed[Reason.FREQUENCY_CAP] == 1


def test_a_held_distribution_waits_can_be_cancelled_and_quiet_hours_defer_an_sms() -> None:
    world = _world()
    email, sms = FakeChannel(Channel.EMAIL), FakeChannel(Channel.SMS)
    night = send_distribution(world.uow, Clock(NIGHT), CID, "grant_issued", ALL, 10 * MINUTE, "ops")
    assert night.state == "held" and night.counts.recipients == 3
    assert _deliver(world, NIGHT + 5 * MINUTE, email, sms).sent == 0  # inside the hold
    result = _deliver(world, NIGHT + 11 * MINUTE, email, sms)
    assert result.sent == 5 and sms.sent == []  # 2 emails, 3 in-app; the SMS waits for 08:00
    morning = NIGHT + 9 * 60 * MINUTE
    assert _deliver(world, morning, email, sms).sent == 1 and len(sms.sent) == 1
    held = send_distribution(world.uow, CLOCK, CID, "grant_expiring", ALL, 10 * MINUTE, "ops")
    assert cancel_distribution(world.uow, CLOCK, held.id, "ops").counts.suppressed == 9
    assert _deliver(world, CLOCK.instant_us + 20 * MINUTE, email, sms).sent == 0


def test_a_claim_nobody_answered_is_unknown_and_never_sent_again() -> None:
    world = _world()
    email = FakeChannel(Channel.EMAIL)
    dist = send_distribution(world.uow, CLOCK, CID, "grant_issued", (Channel.EMAIL,), 0, "ops")
    with world.uow() as uow:  # a worker claims two messages, then dies before any answer
        claimed = uow.notifications.claim(CLOCK.instant_us, (Channel.EMAIL,), 10, "dead", CLOCK.instant_us)
        uow.commit()
    assert len(claimed) == 2
    result = _deliver(world, CLOCK.instant_us + 10 * MINUTE, email, lease_us=5 * MINUTE)
    assert (result.unknown, result.sent, email.sent) == (2, 0, [])
    status = distribution_status(world.uow, dist.id)
    assert (status.counts.failed, status.counts.unknown, status.counts.queued) == (2, 2, 0)


def test_a_transient_refusal_is_retried_with_backoff_then_failed_a_bounce_fails_at_once() -> None:
    world = _world()
    busy = DeliveryResult(Outcome.RETRY, "smtp_451")
    email = FakeChannel(
        Channel.EMAIL,
        {
            "li@example.com": [busy] * MAX_ATTEMPTS,
            "ann@example.com": [DeliveryResult(Outcome.FAILED, "smtp_550")],
        },
    )
    dist = send_distribution(world.uow, CLOCK, CID, "grant_issued", (Channel.EMAIL,), 0, "ops")
    at = CLOCK.instant_us
    first = _deliver(world, at, email)
    assert (first.retry, first.failed) == (1, 1)
    for attempt in range(1, MAX_ATTEMPTS):
        assert _deliver(world, at + backoff_us(attempt) - 1, email).due == 0  # not before its time
        at += backoff_us(attempt)
        _deliver(world, at, email)
    assert len(email.sent) == MAX_ATTEMPTS + 1
    status = distribution_status(world.uow, dist.id)
    assert (status.counts.failed, status.counts.queued) == (2, 0)


def test_input_is_checked_and_named() -> None:
    assert parse_channels("email, sms,email") == (Channel.EMAIL, Channel.SMS)
    assert parse_hold_us("0s") == 0 and parse_hold_us("10m") == 10 * MINUTE
    for bad, call in (("fax", lambda: parse_channels("fax")), ("hold", lambda: parse_hold_us("8d"))):
        with pytest.raises(InputError, match=bad):
            call()
    with pytest.raises(InputError, match="template"):
        plan_distribution(_world().uow, CLOCK, CID, "claim_decided", ALL)


def test_reinstate_reopens_an_expired_grant_through_the_ledger() -> None:
    world = _world()
    grant_id, opened = grants_by_purchase(world)["P01"]["id"], grants_by_purchase(world)["P03"]["id"]
    claim_grant(world.uow, CLOCK, opened)
    with pytest.raises(RefusedError, match="only an expired grant"):
        reinstate_grant(world.uow, CLOCK, opened, "missed the notice", "support")
    expire_grants(world.uow, Clock(LATER))
    before = world.store.budgets[CID].remaining_minor
    reopened = reinstate_grant(world.uow, Clock(LATER), grant_id, "she never heard of it", "support")
    assert reopened.grant.state is GrantState.ISSUED and reopened.pending is None
    assert world.store.budgets[CID].remaining_minor == before - 199_900
    again = reinstate_grant(world.uow, Clock(LATER), grant_id, "again", "support")
    assert again == reopened and world.store.budgets[CID].remaining_minor == before - 199_900
    assert verify_ledger(world.uow).ok
    assert expire_grants(world.uow, Clock(LATER + 31 * 86_400 * 1_000_000)).expired == 1  # expires again
    assert verify_ledger(world.uow).ok
    with pytest.raises(InputError, match="reason"):
        reinstate_grant(world.uow, Clock(LATER), grant_id, " ", "support")
