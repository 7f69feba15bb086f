"""Compensation tells each customer of their extension (``compensation_applied``), on the memory fakes.

Scenario B's worked example: three v1 buyers, one per plan, compensated towards v2. Each extended
subscription gets one distribution of its own and one message per channel, in the account's
language, written in the transaction that extends it; a re-run, a dry run and a refund-and-repurchase
write none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest

from pledge.adapters.cel.engine import compile_rule
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.distributions import MessageState
from pledge.domain.notifications import Channel, Purpose
from pledge.domain.records import AccountRecord
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.catalog import apply_plans
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.import_data import import_accounts
from pledge.usecases.notification_ports import MessageRecord
from pledge.usecases.notify_transactional import transactional_distribution_id
from pledge.usecases.ports import CompiledRule, UnitOfWorkFactory
from pledge.usecases.subscriptions import buy_subscription, refund_subscription
from tests.support.billing import (
    BUY_AT,
    CAMPAIGN_ID,
    DIAMOND,
    EXTRA_DAYS,
    GOLD,
    NEW_ENDS_AT,
    PLATINUM,
    offer,
    plans,
    us,
)

PREPARED = "2023-10-20T09:00:00+08:00"
PUBLISHED = "2023-11-03T11:00:00+08:00"
COMPENSATED = "2023-11-04T09:00:00+08:00"
# Who bought what, and how they can be reached: email, phone, language.
BUYERS = {
    "U01": (GOLD, "li@example.com", "+8613800138001", "zh-CN"),
    "U02": (PLATINUM, "ann@example.com", "", "en"),
    "U03": (DIAMOND, "", "", "zh-CN"),  # in-app only
}


@dataclass(frozen=True)
class Clock:
    instant_us: int

    def now_us(self) -> int:
        return self.instant_us


def at(instant: str) -> Clock:
    return Clock(us(instant))


@lru_cache(maxsize=4)
def rules(text: str) -> CompiledRule:
    return compile_rule(text)


@dataclass
class World:
    store: MemoryStore
    uow: UnitOfWorkFactory
    terms: dict[str, str]  # account -> its subscription id

    def compensate(self, *, dry_run: bool = False, **kw: Any) -> Any:
        return compensate_campaign(self.uow, at(COMPENSATED), CAMPAIGN_ID, "ops", dry_run=dry_run, **kw)

    def messages(self) -> list[MessageRecord]:
        found = self.store.notifications.messages.values()
        return sorted((m for m in found if m.template == "compensation_applied"), key=lambda m: m.id)


@pytest.fixture
def world() -> World:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    accounts = [
        AccountRecord(a, "CN", us("2020-01-01T00:00:00+08:00"), email, phone, locale)
        for a, (_, email, phone, locale) in BUYERS.items()
    ]
    import_accounts(uow, [accounts])
    apply_plans(uow, at(PREPARED), plans(), "ops")
    apply_campaign(uow, rules, at(PREPARED), offer(1), "ops")
    approve_campaign(uow, rules, at(PREPARED), CAMPAIGN_ID, "fin")
    launch_campaign(uow, rules, at(PREPARED), CAMPAIGN_ID, "fin")
    terms = {a: buy_subscription(uow, at(BUY_AT), a, plan).id for a, (plan, *_) in BUYERS.items()}
    apply_campaign(uow, rules, at(PUBLISHED), offer(2), "ops")
    approve_campaign(uow, rules, at(PUBLISHED), CAMPAIGN_ID, "fin")
    return World(store, uow, terms)


def test_each_extension_is_told_once_on_every_channel_in_the_account_language(world: World) -> None:
    run = world.compensate()
    assert run.applied == 3
    messages = world.messages()
    by_account = Counter((m.account_id, m.channel.value, m.state.value) for m in messages)
    assert by_account == Counter(
        {
            ("U01", "email", "queued"): 1,
            ("U01", "sms", "queued"): 1,
            ("U01", "inapp", "queued"): 1,
            ("U02", "email", "queued"): 1,
            ("U02", "sms", "suppressed"): 1,  # no phone: recorded, with the reason
            ("U02", "inapp", "queued"): 1,
            ("U03", "email", "suppressed"): 1,
            ("U03", "sms", "suppressed"): 1,
            ("U03", "inapp", "queued"): 1,
        }
    )
    assert {m.reason for m in messages if m.state is MessageState.SUPPRESSED} == {"no_contact"}
    for account, (plan, *_, locale) in BUYERS.items():
        term_id = world.terms[account]
        mine = [m for m in messages if m.account_id == account]
        assert {m.locale for m in mine} == {locale}
        assert {m.topic for m in mine} == {f"compensation_applied:{term_id}"}
        assert {m.distribution_id for m in mine} == {
            transactional_distribution_id("compensation_applied", term_id)
        }
        assert mine[0].params == {
            "service_name": {GOLD: "Gold 50 GB", PLATINUM: "Platinum 200 GB", DIAMOND: "Diamond 2 TB"}[plan],
            "days_added": EXTRA_DAYS[plan],
            "ends_at_us": us(NEW_ENDS_AT[plan]),
            "timezone": "Asia/Shanghai",
        }
    distributions = world.store.notifications.distributions
    told = [d for d in distributions.values() if d.template == "compensation_applied"]
    assert (
        sorted((d.kind, d.state.value, d.recipients) for d in told) == [("transactional", "released", 1)] * 3
    )


def test_a_rerun_a_dry_run_and_customer_service_write_no_second_message(world: World) -> None:
    assert world.compensate(dry_run=True).items and world.messages() == []  # a dry run tells nobody
    single = world.compensate(account_id="U02")  # customer service first, for one customer
    assert single.applied == 1 and {m.account_id for m in world.messages()} == {"U02"}
    assert world.compensate().applied == 2
    first = world.messages()
    assert len(first) == 9
    assert world.compensate().applied == 0  # idempotent: nothing applied, nothing told
    assert world.messages() == first


def test_an_account_with_two_extended_subscriptions_hears_of_each(world: World) -> None:
    # U01 bought a second plan under v1 (a term is compensated, and told of, once: per term).
    second = buy_subscription(world.uow, at("2023-11-02T10:00:00+08:00"), "U01", PLATINUM).id
    world.compensate()
    emails = [m for m in world.messages() if m.account_id == "U01" and m.channel.value == "email"]
    assert sorted(m.topic for m in emails) == sorted(
        f"compensation_applied:{t}" for t in (world.terms["U01"], second)
    )


def test_an_opted_out_channel_is_recorded_not_sent(world: World) -> None:
    # U01 unsubscribed from transactional email (a one-click link of an earlier message).
    world.store.notifications.optouts["U01"] = frozenset({(Channel.EMAIL, Purpose.TRANSACTIONAL)})
    world.compensate()
    u01 = {m.channel.value: m for m in world.messages() if m.account_id == "U01"}
    assert (u01["email"].state, u01["email"].reason) == (MessageState.SUPPRESSED, "opted_out")
    assert u01["sms"].state is MessageState.QUEUED and u01["inapp"].state is MessageState.QUEUED


def test_refund_and_repurchase_tells_no_compensation(world: World) -> None:
    """ADR 26: netting gives no extension, so no ``compensation_applied`` is owed; a repurchase
    before compensation leaves the term refunded and skipped, a repurchase after it leaves the
    message sent when the days were added as the record of that extension."""
    refund_subscription(world.uow, at("2023-11-04T08:00:00+08:00"), world.terms["U01"], repurchase=True)
    world.compensate()
    assert {m.account_id for m in world.messages()} == {"U02", "U03"}
    before = world.messages()
    refund_subscription(world.uow, at("2023-11-05T08:00:00+08:00"), world.terms["U02"], repurchase=True)
    assert world.messages() == before
