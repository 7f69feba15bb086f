"""The domain events each use case records, on the memory unit of work (ADR 20).

What a use case changed is read from the event log the unit of work wrote at commit: nothing for a
change that rolled back or a repeat that changed nothing, one event per change otherwise, and one
event per batch (an issue posting, a campaign's share of an expiry batch) for bulk work.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.campaign import CampaignState
from pledge.domain.errors import NotFoundError
from pledge.domain.events import (
    CampaignStateChanged,
    CompensationApplied,
    DomainEvent,
    GrantClaimed,
    GrantRevoked,
    GrantsExpired,
    GrantsIssued,
    SubscriptionExtended,
    SubscriptionLapsed,
    SubscriptionRenewed,
    SubscriptionStarted,
    TermsApproved,
    TermsDrafted,
    event_data,
    event_type,
)
from pledge.domain.grant import GrantState
from pledge.domain.subscriptions import Term, TermKind, TermState
from pledge.entrypoints.presenters import grants_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.catalog import apply_plans
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.corrections import revoke_grant
from pledge.usecases.grants import claim_grant, expire_grants, list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.subscriptions import buy_subscription, renew_due, set_term_auto_renew
from tests.support import billing
from tests.support.data import EXPECTED_GRANTS, campaign
from tests.unit.test_usecases import CID, CLOCK, LATER, Clock, account_records, purchase_records, rules
from tests.unit.test_usecases_billing import APPLIED, at


class Log:
    """The store's event log, read as a cursor: ``new()`` is what was committed since the last call."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._seen = 0

    def new(self) -> list[DomainEvent]:
        events = self._store.event_log.entries(self._seen)
        self._seen += len(events)
        return events


def cashback_world() -> tuple[MemoryStore, Log]:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    import_accounts(uow, [account_records()])
    import_purchases(uow, [purchase_records()])
    return store, Log(store)


def test_applying_approving_and_launching_terms_record_what_changed() -> None:
    store, log = cashback_world()
    uow = memory_uow_factory(store)
    apply_campaign(uow, rules, CLOCK, campaign(), "ops")
    drafted = log.new()
    assert [type(e) for e in drafted] == [TermsDrafted]
    assert drafted[0] == TermsDrafted(CID, 1, drafted[0].content_hash, "ops", CLOCK.now_us())
    apply_campaign(uow, rules, CLOCK, campaign(), "ops")  # the same terms: nothing changed
    assert log.new() == []

    approve_campaign(uow, rules, CLOCK, CID, "finance")
    approved = log.new()
    assert approved == [
        TermsApproved(CID, 1, drafted[0].content_hash, "finance", CLOCK.now_us()),
        CampaignStateChanged(CID, CampaignState.APPROVED, CLOCK.now_us()),
    ]
    launch_campaign(uow, rules, CLOCK, CID, "finance")
    assert log.new() == [CampaignStateChanged(CID, CampaignState.ACTIVE, CLOCK.now_us())]


def test_a_run_records_one_grants_issued_per_posting_naming_its_grants() -> None:
    store, log = cashback_world()
    uow = memory_uow_factory(store)
    apply_campaign(uow, rules, CLOCK, campaign(), "ops")
    approve_campaign(uow, rules, CLOCK, CID, "finance")
    launch_campaign(uow, rules, CLOCK, CID, "finance")
    log.new()
    run_campaign(uow, rules, CLOCK, CID, "ops")
    issued = log.new()
    assert issued and all(isinstance(e, GrantsIssued) for e in issued)
    per_posting = Counter(store.grant_postings.values())
    assert {e.posting_id: e.count for e in issued if isinstance(e, GrantsIssued)} == per_posting
    assert sum(e.count for e in issued if isinstance(e, GrantsIssued)) == len(EXPECTED_GRANTS)
    amounts = Counter[str]()
    for grant in store.grants.values():
        amounts[store.grant_postings[grant.id]] += grant.amount_minor
    for event in issued:
        assert isinstance(event, GrantsIssued)
        assert (event.campaign_id, event.currency, event.at_us) == (CID, "CNY", CLOCK.now_us())
        assert event.amount_minor == amounts[event.posting_id]
    run_campaign(uow, rules, CLOCK, CID, "ops")  # nothing new to issue
    assert log.new() == []


def launched_and_run() -> tuple[MemoryStore, Log]:
    store, log = cashback_world()
    uow = memory_uow_factory(store)
    apply_campaign(uow, rules, CLOCK, campaign(), "ops")
    approve_campaign(uow, rules, CLOCK, CID, "finance")
    launch_campaign(uow, rules, CLOCK, CID, "finance")
    run_campaign(uow, rules, CLOCK, CID, "ops")
    log.new()
    return store, log


def test_a_claim_records_the_claimed_grant_once_and_only_for_its_own_account() -> None:
    store, log = launched_and_run()
    uow = memory_uow_factory(store)
    grant = grants_json(list_grants(uow, campaign_id=CID, limit=1))["data"][0]
    stranger = "someone-else"
    with pytest.raises(NotFoundError) as refused:  # another account's grant: as if it did not exist
        claim_grant(uow, CLOCK, grant["id"], account_id=stranger)
    assert (refused.value.code, refused.value.param) == ("grant_not_found", "grant_id")
    assert log.new() == [] and store.grants[grant["id"]].state is GrantState.ISSUED

    claim_grant(uow, CLOCK, grant["id"], account_id=grant["account_id"])
    (claimed,) = log.new()
    assert claimed == GrantClaimed(store.grants[grant["id"]])
    assert claimed.grant.state is GrantState.CLAIMED and claimed.grant.claimed_at_us == CLOCK.now_us()
    claim_grant(uow, CLOCK, grant["id"])  # staff repeating it: same grant, nothing changed
    assert log.new() == []


def test_expiry_records_one_event_per_campaign_and_revocation_the_revoked_grant() -> None:
    store, log = launched_and_run()
    uow = memory_uow_factory(store)
    first, *rest = grants_json(list_grants(uow, campaign_id=CID, limit=100))["data"]
    revoke_grant(uow, CLOCK, first["id"], "returned", "support")
    (revoked,) = log.new()
    assert isinstance(revoked, GrantRevoked) and revoked.grant == store.grants[first["id"]]
    assert revoked.grant.revoked_reason == "returned"

    result = expire_grants(uow, Clock(LATER))
    expired = log.new()
    assert all(isinstance(e, GrantsExpired) for e in expired)
    assert len(expired) == result.batches == 1  # one campaign: one event
    assert sum(e.count for e in expired if isinstance(e, GrantsExpired)) == result.expired == len(rest)
    total = sum(store.grants[g["id"]].amount_minor for g in rest)
    assert sum(e.amount_minor for e in expired if isinstance(e, GrantsExpired)) == total
    assert {e.at_us for e in expired if isinstance(e, GrantsExpired)} == {LATER}
    expire_grants(uow, Clock(LATER))
    assert log.new() == []


def test_events_are_written_as_plain_json_named_by_their_class() -> None:
    store, log = launched_and_run()
    uow = memory_uow_factory(store)
    grant = grants_json(list_grants(uow, campaign_id=CID, limit=1))["data"][0]
    claim_grant(uow, CLOCK, grant["id"])
    (claimed,) = log.new()
    assert event_type(claimed) == "GrantClaimed"
    data = event_data(claimed)
    assert data["grant"]["state"] == "claimed" and data["grant"]["id"] == grant["id"]


# -- scenario B -------------------------------------------------------------------------------------


def billing_world() -> tuple[MemoryStore, Log]:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    import_accounts(uow, [billing.account_records()])
    apply_plans(uow, APPLIED, billing.plans(billing.MONTHLY_PLAN), "ops")
    return store, Log(store)


def term_of(store: MemoryStore, term_id: str) -> Term:
    with memory_uow_factory(store)() as uow:
        term = uow.subscriptions.get(term_id)
    assert term is not None
    return term


def test_purchases_renewals_and_lapses_record_their_terms() -> None:
    store, log = billing_world()
    uow = memory_uow_factory(store)
    bought = buy_subscription(uow, at(billing.BUY_AT), "U01", billing.MONTHLY, "UTC")
    other = buy_subscription(uow, at(billing.BUY_AT), "U02", billing.MONTHLY, "UTC")
    started = log.new()
    assert [type(e) for e in started] == [SubscriptionStarted, SubscriptionStarted]
    assert [e.term.id for e in started if isinstance(e, SubscriptionStarted)] == [bought.id, other.id]
    set_term_auto_renew(uow, at(billing.BUY_AT), bought.id, True, "U01")
    assert log.new() == []  # a consent is no domain event (yet): it is audited, not published

    due = term_of(store, bought.id).ends_at_us
    renew_due(uow, at(due))
    events = log.new()
    renewed = [e for e in events if isinstance(e, SubscriptionRenewed)]
    lapsed = [e for e in events if isinstance(e, SubscriptionLapsed)]
    assert len(events) == 2 and len(renewed) == 1 and len(lapsed) == 1
    assert renewed[0].term.kind is TermKind.RENEWAL and renewed[0].term.previous_term_id == bought.id
    assert lapsed[0].term.id == other.id and lapsed[0].term.state is TermState.LAPSED
    renew_due(uow, at(due))
    assert log.new() == []


def test_a_compensation_records_the_extended_term_and_the_compensation_once() -> None:
    store, log = billing_world()
    uow = memory_uow_factory(store)
    apply_campaign(uow, rules, APPLIED, billing.offer(1), "ops")
    approve_campaign(uow, rules, APPLIED, billing.CAMPAIGN_ID, "fin")
    launch_campaign(uow, rules, APPLIED, billing.CAMPAIGN_ID, "fin")
    bought = buy_subscription(uow, at(billing.BUY_AT), "U01", billing.PLATINUM, "UTC")
    when = at("2023-11-03T11:00:00+08:00")
    apply_campaign(uow, rules, when, billing.offer(2), "ops")
    approve_campaign(uow, rules, when, billing.CAMPAIGN_ID, "fin")
    log.new()

    applying = at("2023-11-04T09:00:00+08:00")
    compensate_campaign(uow, applying, billing.CAMPAIGN_ID, "ops", dry_run=True)
    assert log.new() == []  # a dry run changes nothing
    compensate_campaign(uow, applying, billing.CAMPAIGN_ID, "ops", dry_run=False)
    extended, applied = log.new()
    assert isinstance(extended, SubscriptionExtended) and isinstance(applied, CompensationApplied)
    assert extended.term == term_of(store, bought.id)
    assert extended.term.compensated_days == billing.EXTRA_DAYS[billing.PLATINUM]
    assert (applied.item.term_id, applied.approved_by, applied.applied_by) == (bought.id, "fin", "ops")
    assert applied.at_us == applying.now_us()
    compensate_campaign(uow, at("2023-11-05T09:00:00+08:00"), billing.CAMPAIGN_ID, "ops", dry_run=False)
    assert log.new() == []


def test_a_unit_of_work_that_does_not_commit_leaves_no_event() -> None:
    store, log = launched_and_run()
    grant = next(iter(store.grants.values()))
    with memory_uow_factory(store)() as uow:
        uow.record(GrantClaimed(grant))
    assert log.new() == []
    with memory_uow_factory(store)() as uow:
        uow.record(GrantClaimed(grant))
        uow.commit()
        uow.record(GrantRevoked(grant))  # after commit: a new transaction, never committed
    assert log.new() == [GrantClaimed(grant)]
