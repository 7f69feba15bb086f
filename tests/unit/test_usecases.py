"""Unit tests of every use case on the in-memory adapters (no database), plus the fakes themselves."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pledge.adapters.cel.engine import compile_rule
from pledge.adapters.memory import (
    IntegrityError,
    MemoryStore,
    MemoryUnitOfWork,
    memory_uow_factory,
)
from pledge.domain.campaign import CampaignState, TermsVersion, parse_cashback_terms
from pledge.domain.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    RefusedError,
)
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.ledger import Transfer
from pledge.domain.money import parse_minor
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.timeutil import US_PER_DAY, parse_instant
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import grants_json, ledger_check_json, simulation_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import (
    apply_campaign,
    approve_campaign,
    launch_campaign,
    set_campaign_state,
)
from pledge.usecases.common import selection_for
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import ExpiryRun, Returned, claim_grant, expire_grants, grant_json, list_grants
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import CampaignBooks, verify_ledger
from pledge.usecases.ports import Budget, CampaignRecord, CompiledRule, UnitOfWorkFactory
from pledge.usecases.report import campaign_report
from pledge.usecases.simulate import blocking_problems, simulate_campaign
from tests.support.data import ACCOUNTS, EXPECTED_GRANTS, PURCHASES, campaign

NOW = parse_instant("2021-08-10T12:00:00+08:00")
CID = "founders-refund"
LATER = NOW + 31 * US_PER_DAY  # past the 30-day claim window


@dataclass(frozen=True)
class Clock:
    instant_us: int = NOW

    def now_us(self) -> int:
        return self.instant_us


CLOCK = Clock()


@lru_cache(maxsize=64)
def rules(text: str) -> CompiledRule:
    return compile_rule(text)


def account_records(rows: Sequence[tuple[str, str, str]] = ACCOUNTS) -> list[AccountRecord]:
    return [AccountRecord(a, region, parse_instant(at)) for a, region, at in rows]


def purchase(
    pid: str, account: str, sku: str, serial: str, at: str, price: str, status: str
) -> PurchaseRecord:
    return PurchaseRecord(
        pid, account, sku, serial, parse_instant(at), parse_minor(price, "CNY"), "CNY", status, "online"
    )


def purchase_records(rows: Sequence[tuple[str, ...]] = PURCHASES) -> list[PurchaseRecord]:
    return [purchase(*row) for row in rows]


@dataclass
class World:
    store: MemoryStore
    uow: UnitOfWorkFactory


@pytest.fixture
def world() -> World:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    import_accounts(uow, [account_records()])
    import_purchases(uow, [purchase_records()])
    return World(store, uow)


def launch(w: World, accept_shortfall: int | None = None, **changes: Any) -> None:
    apply_campaign(w.uow, rules, CLOCK, campaign(**changes), "ops")
    approve_campaign(w.uow, rules, CLOCK, CID, "finance")
    launch_campaign(w.uow, rules, CLOCK, CID, "finance", accept_shortfall)


def grants_by_purchase(w: World) -> dict[str, dict[str, Any]]:
    return {g["purchase_id"]: g for g in grants_json(list_grants(w.uow, campaign_id=CID))["data"]}


# -- the fakes ----------------------------------------------------------------


def test_uncommitted_work_is_discarded_and_commit_publishes(world: World) -> None:
    record = CampaignRecord("c", "cashback", CampaignState.DRAFT, "CNY", NOW, 0)
    with world.uow() as uow:
        uow.campaigns.add(record)
        assert uow.campaigns.get("c") == record
    assert "c" not in world.store.campaigns
    with world.uow() as uow:
        uow.campaigns.add(record)
        uow.commit()
        uow.campaigns.set_state("c", CampaignState.APPROVED)  # after commit: a new transaction
    assert world.store.campaigns["c"].state is CampaignState.DRAFT

    def fail_inside() -> None:
        with world.uow() as uow:
            uow.campaigns.set_state("c", CampaignState.APPROVED)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_inside()
    assert world.store.campaigns["c"].state is CampaignState.DRAFT


def test_a_commit_racing_another_commit_is_a_conflict(world: World) -> None:
    first, second = MemoryUnitOfWork(world.store), MemoryUnitOfWork(world.store)
    with first, second:
        first.campaigns.add(CampaignRecord("a", "cashback", CampaignState.DRAFT, "CNY", NOW, 0))
        second.campaigns.add(CampaignRecord("b", "cashback", CampaignState.DRAFT, "CNY", NOW, 0))
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
    assert set(world.store.campaigns) == {"a"}


def test_store_constraints_mirror_the_database(world: World) -> None:
    with world.uow() as uow:
        uow.campaigns.add(CampaignRecord("c", "cashback", CampaignState.DRAFT, "CNY", NOW, 0))
        with pytest.raises(IntegrityError):
            uow.campaigns.add(CampaignRecord("c", "cashback", CampaignState.DRAFT, "CNY", NOW, 0))
        uow.campaigns.add_version(TermsVersion("c", 1, "sha256:x", {"a": 1}, "ops", NOW))
        with pytest.raises(IntegrityError):  # the CHECK approved_by <> author
            uow.campaigns.approve("c", 1, "ops", NOW, "sha256:x")
        with pytest.raises(ConflictError):  # bound to the hash
            uow.campaigns.approve("c", 1, "fin", NOW, "sha256:other")
        uow.campaigns.approve("c", 1, "fin", NOW, "sha256:x")
        with pytest.raises(ConflictError):  # approved once only
            uow.campaigns.approve("c", 1, "fin2", NOW, "sha256:x")
        assert uow.campaigns.versions("c")[0].approved
        assert uow.campaigns.bump_issue_seq("c", 0) and not uow.campaigns.bump_issue_seq("c", 0)

        assert not uow.budgets.adjust("c", -1)  # no budget yet
        uow.budgets.create(Budget("c", "CNY", 100, 100))
        assert not uow.budgets.adjust("c", -101)  # below zero
        assert not uow.budgets.adjust("c", 1)  # above funded
        assert uow.budgets.adjust("c", -100)
        assert uow.budgets.adjust("c", 50, 50)
        assert uow.budgets.get("c") == Budget("c", "CNY", 150, 50)

        g = Grant(grant_id("c", "P01"), "c", 1, "A-cn-1", "P01", 10, "CNY", GrantState.ISSUED, 0, 10)
        uow.grants.add_many([g], ["S1"], posting_id="issue:t")
        with pytest.raises(IntegrityError):  # the same id
            uow.grants.add_many([g], ["S1"], posting_id="issue:t")
        with pytest.raises(IntegrityError):  # another id, same (campaign, purchase)
            uow.grants.add_many([dataclasses.replace(g, id="gr_other")], ["S1"], posting_id="issue:t")
        with pytest.raises(IntegrityError):  # one statement: the good row is not kept either
            uow.grants.add_many(
                [dataclasses.replace(g, id="gr_2", purchase_id="P02"), g], ["", ""], posting_id="issue:t"
            )
        assert uow.grants.get("gr_2") is None
        assert uow.grants.issued_counts("c") == ({"A-cn-1": 1}, {"S1": 1}, {"P01"})

        transfer = Transfer("t1", "x", "y", "CNY", 5, "fund", "c", NOW)
        assert uow.ledger.append([transfer]) == 1
        with pytest.raises(IntegrityError):
            uow.ledger.append([transfer._replace(amount=6)])
        assert uow.ledger.head()[0] == 1 and len(list(uow.ledger.entries())) == 1


def test_reimport_unchanged_conflicting_and_update(world: World) -> None:
    assert import_accounts(world.uow, [account_records()]) == ImportResult(
        imported=0, unchanged=len(ACCOUNTS), updated=0, revoked=0, clawbacks=0
    )
    moved = [*account_records()[:-1], AccountRecord("A-tw-1", "CN", account_records()[-1].registered_at_us)]
    with pytest.raises(InputError) as caught:
        import_accounts(world.uow, [moved])
    assert caught.value.code == "conflicting_reimport"
    assert caught.value.param == "account_id A-tw-1: region"
    assert world.store.accounts["A-tw-1"].region == "TW"
    assert import_accounts(
        world.uow, [moved], update=True, corrector=Corrector(rules, CLOCK)
    ) == ImportResult(imported=1, unchanged=len(ACCOUNTS) - 1, updated=1, revoked=0, clawbacks=0)
    assert world.store.accounts["A-tw-1"].region == "CN"

    repriced = [p._replace(price_minor=1) if p.purchase_id == "P03" else p for p in purchase_records()]
    with pytest.raises(InputError, match=r"purchase_id P03 already exists with a different price\b"):
        import_purchases(world.uow, [repriced])


def test_import_is_all_or_nothing_when_a_later_batch_fails() -> None:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    import_accounts(uow, [account_records()])
    good, bad = purchase_records()[:5], purchase_records()[5:]
    bad[2] = bad[2]._replace(account_id="A-nobody")
    seen: list[int] = []
    with pytest.raises(InputError) as caught:
        import_purchases(uow, iter([good, bad]), progress=seen.append)
    assert caught.value.code == "unknown_account"
    assert caught.value.param == f"purchase_id {bad[2].purchase_id}: account_id"
    assert seen == [5] and store.purchases == {}

    def failing_reader() -> Iterator[list[PurchaseRecord]]:
        yield good
        raise InputError("purchases.csv row 7: price: bad", param="row 7")

    with pytest.raises(InputError, match="row 7"):
        import_purchases(uow, failing_reader())
    assert store.purchases == {}
    assert import_purchases(uow, [good, purchase_records()[5:]]) == ImportResult(
        imported=10, unchanged=0, updated=0, revoked=0, clawbacks=0
    )


# -- apply, approve, launch, state ----------------------------------------------


def test_apply_is_idempotent_versions_changes_and_refuses_bad_rules(world: World) -> None:
    first = apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    again = apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    changed = apply_campaign(world.uow, rules, CLOCK, campaign(budget="100.00"), "ops")
    assert (first.version, first.changed) == (1, True)
    assert (again.version, again.changed, again.content_hash) == (1, False, first.content_hash)
    assert (changed.version, changed.changed) == (2, True)
    with world.uow() as uow:
        assert [e["kind"] for e in uow.campaigns.events(CID)] == ["terms_applied", "terms_applied"]
    doc = campaign(id="other")
    doc["qualify"]["rule"] = "purchase.sku == 1"
    with pytest.raises(InputError):
        apply_campaign(world.uow, rules, CLOCK, doc, "ops")
    assert "other" not in world.store.campaigns


def test_approval_is_four_eyes_bound_to_the_hash_and_reset_by_new_terms(world: World) -> None:
    applied = apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    with pytest.raises(RefusedError) as caught:
        approve_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert caught.value.code == "four_eyes"
    with pytest.raises(RefusedError) as caught:
        approve_campaign(world.uow, rules, CLOCK, CID, "finance", expected_hash="sha256:stale")
    assert caught.value.code == "terms_changed"
    approved = approve_campaign(world.uow, rules, CLOCK, CID, "finance", expected_hash=applied.content_hash)
    assert approved.state is CampaignState.APPROVED and approved.approved_by == "finance"
    with pytest.raises(RefusedError) as caught:
        approve_campaign(world.uow, rules, CLOCK, CID, "boss")
    assert caught.value.code == "already_approved"
    apply_campaign(world.uow, rules, CLOCK, campaign(budget="100.00"), "ops")
    assert world.store.campaigns[CID].state is CampaignState.DRAFT
    with pytest.raises(RefusedError) as caught:
        launch_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert caught.value.code == "not_approved"
    with pytest.raises(NotFoundError):
        approve_campaign(world.uow, rules, CLOCK, "nope", "finance")


def test_launch_funds_the_budget_once_and_states_move_by_the_rules(world: World) -> None:
    launch(world)
    assert world.store.budgets[CID] == Budget(CID, "CNY", 5_000_000_000, 5_000_000_000)
    assert [e.transfer.kind for e in world.store.ledger] == ["fund"]
    with pytest.raises(RefusedError) as caught:
        launch_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert caught.value.code == "invalid_state_transition"
    assert len(world.store.ledger) == 1
    assert (
        set_campaign_state(world.uow, CLOCK, CID, CampaignState.PAUSED, "ops").state is CampaignState.PAUSED
    )
    with pytest.raises(RefusedError) as caught:
        run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert caught.value.code == "not_active"
    set_campaign_state(world.uow, CLOCK, CID, CampaignState.ACTIVE, "ops")
    set_campaign_state(world.uow, CLOCK, CID, CampaignState.CLOSED, "ops")
    with pytest.raises(RefusedError, match="closed and cannot become active"):
        set_campaign_state(world.uow, CLOCK, CID, CampaignState.ACTIVE, "ops")
    with world.uow() as uow:
        kinds = [e["kind"] for e in uow.campaigns.events(CID)]
    assert kinds == [
        "terms_applied",
        "terms_approved",
        "launched",
        "state_paused",
        "state_active",
        "state_closed",
    ]


def test_terms_with_blocking_problems_cannot_be_approved_and_pay_nothing(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(benefit={"amount": "19990.00"}), "ops")
    with pytest.raises(RefusedError) as refused:
        approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert refused.value.code == "blocking_problems"
    assert "amount_exceeds_price_paid" in refused.value.message and "P01" in refused.value.message
    with pytest.raises(RefusedError) as caught:
        launch_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert caught.value.code == "not_approved"
    assert world.store.campaigns[CID].state is CampaignState.DRAFT
    assert world.store.budgets == {} and world.store.grants == {} and world.store.ledger == []
    assert verify_ledger(world.uow).entries == 0


# -- simulate ---------------------------------------------------------------------


def test_dry_run_counts_conditions_near_misses_and_widening(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    sim = simulation_json(simulate_campaign(world.uow, rules, CID, widen_days=1))
    assert (sim["evaluated"], sim["qualifying"], sim["grants"], sim["amount"]) == (10, 5, 3, "5297.00")
    assert sim["limits"] == {"per_account": 1, "per_serial": 1}
    assert sim["rejections"] == {
        "purchased": 2,
        'purchase.sku == "mi-1"': 1,
        'account.region == "CN"': 2,
        'purchase.status == "completed"': 1,
    }
    near = {m["purchase_id"]: (m["condition"], m["distance_days"]) for m in sim["near_misses"]}
    assert near == {
        "P04": ("purchased", 1),
        "P06": ('account.region == "CN"', None),
        "P07": ('purchase.status == "completed"', None),
        "P08": ('purchase.sku == "mi-1"', None),
    }
    assert [m["purchase_id"] for m in sim["near_misses"]] == ["P06", "P07", "P08", "P04"]  # by time
    assert sim["near_misses_total"] == 4
    assert sim["widen"] == {
        "days": 1,
        "from": "2011-08-31",
        "to": "2011-12-08",
        "added_grants": 1,  # P04, one day late; P09 is a day early but in TW
        "added_amount": "1999.00",
        "budget_exhausted": 0,
    }
    assert not sim["blocking"] and sim["problems"] == [] and sim["state"] == "draft"
    assert len(simulate_campaign(world.uow, rules, CID, near_miss_limit=2).near_misses) == 2


def test_dry_run_blocks_a_fixed_amount_above_the_price_paid(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(benefit={"amount": "19990.00"}), "ops")
    sim = simulate_campaign(world.uow, rules, CID)
    (problem,) = sim.problems
    assert problem.code == "amount_exceeds_price_paid" and problem.blocking and sim.blocking
    assert problem.count == 5 and problem.purchases == ("P01", "P02", "P05", "P10", "P03")
    assert (sim.plan.grants, sim.plan.amount_minor) == (0, 0)  # shown, never paid
    # A fixed amount at or below every price paid is fine.
    apply_campaign(world.uow, rules, CLOCK, campaign(benefit={"amount": "1499.00"}), "ops")
    assert not simulate_campaign(world.uow, rules, CID).blocking


def test_blocking_problems_name_the_overpaid_purchases(world: World) -> None:
    terms = parse_cashback_terms(campaign(benefit={"amount": "1800.00"}))
    with world.uow() as uow:
        (problem,) = blocking_problems(uow, terms, selection_for(terms, rules))
    assert problem.code == "amount_exceeds_price_paid" and problem.blocking
    assert (problem.count, problem.purchases) == (2, ("P10", "P03"))  # 1499.00 and 1799.00 paid
    assert "1800.00 CNY" in problem.message and "P10, P03" in problem.message
    capped = parse_cashback_terms(campaign(benefit={"amount": "1800.00", "max_amount": "1499.00"}))
    with world.uow() as uow:
        assert blocking_problems(uow, capped, selection_for(capped, rules)) == []


def test_dry_run_reports_budget_exhaustion_and_matches_the_run(world: World) -> None:
    launch(world, accept_shortfall=1, budget="3500.00")
    sim = simulate_campaign(world.uow, rules, CID)
    assert (sim.plan.grants, sim.plan.budget_exhausted) == (2, 1)
    assert [p.code for p in sim.problems] == ["budget_exhausted"] and not sim.blocking
    run = run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert (run.issued, run.amount_minor) == (sim.plan.grants, sim.plan.amount_minor)
    after = simulate_campaign(world.uow, rules, CID)
    plan = after.plan
    assert (plan.grants, plan.already_granted, plan.budget_exhausted) == (0, 2, 1)


# -- run ------------------------------------------------------------------------------


def test_run_issues_once_in_order_and_books_everything(world: World) -> None:
    with pytest.raises(NotFoundError) as missing:
        run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert missing.value.code == "campaign_not_found"
    launch(world)
    first = run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert (first.issued, first.amount_minor, first.budget_exhausted) == (3, 529700, 0)
    assert first.budget_remaining_minor == 4999470300
    again = run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert (again.issued, again.amount_minor) == (0, 0)
    grants = grants_by_purchase(world)
    assert {k: parse_minor(v["amount"], "CNY") for k, v in grants.items()} == EXPECTED_GRANTS
    assert all(g["state"] == "issued" and g["id"] == grant_id(CID, p) for p, g in grants.items())
    assert world.store.campaigns[CID].issue_seq == 2
    # One posting books the conflicting candidates' chunk and one the free ones (ADR 11); each
    # equals the grants naming it, and together they are the run.
    issue = [e.transfer for e in world.store.ledger if e.transfer.kind == "issue"]
    assert [e.transfer.kind for e in world.store.ledger] == ["fund", "issue", "issue"]
    assert sum(t.amount for t in issue) == sum(EXPECTED_GRANTS.values()) and {t.ref for t in issue} == {CID}
    assert issue[1].id == f"issue:{CID}:r1"
    by_posting = {t.id: 0 for t in issue}
    for g, posting in world.store.grant_postings.items():
        by_posting[posting] += world.store.grants[g].amount_minor
    assert by_posting == {t.id: t.amount for t in issue}
    assert verify_ledger(world.uow).ok


def test_verify_catches_a_posting_that_disagrees_with_its_grants(world: World) -> None:
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    some_grant = next(iter(world.store.grant_postings))
    world.store.grant_postings[some_grant] = "issue:elsewhere"
    problems = verify_ledger(world.uow).problems
    assert any("issue:elsewhere" in p and "missing" in p for p in problems)
    assert any("total" in p and "ledger posting says" in p for p in problems)


def test_budget_stops_issuance_in_order_never_skipping_to_a_cheaper_one(world: World) -> None:
    launch(world, accept_shortfall=1, budget="3500.00")
    result = run_campaign(world.uow, rules, CLOCK, CID, "ops")
    # P01 (1999, Sep 1) fits; P10 (1499, Nov 11) leaves 2.00; P03 (1799, Dec 7) does not fit.
    assert (result.issued, result.budget_exhausted, result.budget_remaining_minor) == (2, 1, 200)
    assert set(grants_by_purchase(world)) == {"P01", "P10"}
    apply_campaign(world.uow, rules, CLOCK, campaign(budget="3000.00"), "ops")
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    with pytest.raises(RefusedError) as caught:  # 3498.00 already issued
        run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert caught.value.code == "budget_below_issued"
    assert world.store.budgets[CID].funded_minor == 350_000


def test_a_raised_budget_in_a_new_version_issues_the_rest(world: World) -> None:
    launch(world, accept_shortfall=1, budget="3500.00")
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    apply_campaign(world.uow, rules, CLOCK, campaign(budget="6000.00"), "ops")
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    result = run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert (result.version, result.issued, result.budget_remaining_minor) == (2, 1, 70300)
    assert world.store.budgets[CID] == Budget(CID, "CNY", 600_000, 70_300)
    assert verify_ledger(world.uow).ok


def test_a_purchase_imported_later_is_picked_up_by_the_next_run(world: World) -> None:
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    late = ("P11", "A-cn-3", "mi-1", "S11", "2011-09-15T10:00:00+08:00", "1999.00", "completed")
    result = import_purchases(world.uow, [purchase_records([*PURCHASES, late])])
    assert result == ImportResult(imported=1, unchanged=len(PURCHASES), updated=0, revoked=0, clawbacks=0)
    assert run_campaign(world.uow, rules, CLOCK, CID, "ops").issued == 1
    assert "P11" in grants_by_purchase(world)
    assert run_campaign(world.uow, rules, CLOCK, CID, "ops").issued == 0


# -- claim, expire, list ---------------------------------------------------------------


def test_claim_is_idempotent_and_refused_after_expiry(world: World) -> None:
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    grants = grants_by_purchase(world)
    opened = grant_json(claim_grant(world.uow, CLOCK, grants["P01"]["id"]))
    assert opened["state"] == "claimed" and opened["claimed_at"] == "2021-08-10T04:00:00Z"
    assert grant_json(claim_grant(world.uow, Clock(NOW + 5), grants["P01"]["id"])) == opened
    assert [e.transfer.kind for e in world.store.ledger].count("claim") == 1
    expires = world.store.grants[grants["P03"]["id"]].expires_at_us
    with pytest.raises(RefusedError) as caught:
        claim_grant(world.uow, Clock(expires), grants["P03"]["id"])
    assert caught.value.code == "grant_expired"
    assert claim_grant(world.uow, Clock(expires - 1), grants["P03"]["id"]).state is GrantState.CLAIMED
    with pytest.raises(NotFoundError):
        claim_grant(world.uow, CLOCK, "gr_nope")
    assert verify_ledger(world.uow).ok


def test_expire_returns_unopened_value_to_the_budget(world: World) -> None:
    launch(world, accept_shortfall=1, budget="3500.00")
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    claim_grant(world.uow, CLOCK, grant_id(CID, "P01"))
    assert expire_grants(world.uow, Clock(NOW + 30 * US_PER_DAY - 1)).expired == 0
    result = expire_grants(world.uow, Clock(LATER))
    assert result == ExpiryRun(expired=1, batches=1, returned=(Returned("CNY", 149900),))
    assert expire_grants(world.uow, Clock(LATER)).expired == 0
    assert world.store.budgets[CID].remaining_minor == 200 + 149_900
    assert world.store.grants[grant_id(CID, "P10")].state is GrantState.EXPIRED
    # An expired grant still holds its purchase: P10 is never granted again, and P03 (1799.00)
    # still does not fit in the 1501.00 now remaining.
    assert run_campaign(world.uow, rules, Clock(LATER), CID, "ops").issued == 0
    assert verify_ledger(world.uow).ok


def test_list_grants_paginates_and_validates_the_limit(world: World) -> None:
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    ids = sorted(grant_id(CID, p) for p in EXPECTED_GRANTS)
    seen, after, pages = [], None, 0
    while True:
        page = list_grants(world.uow, campaign_id=CID, starting_after=after, limit=2)
        seen += [g.id for g in page.rows]
        pages += 1
        if not page.has_more:
            break
        after = page.rows[-1].id
    assert (seen, pages) == (ids, 2)
    assert not list_grants(world.uow, limit=3).has_more
    assert [g["purchase_id"] for g in grants_json(list_grants(world.uow, account_id="A-cn-2"))["data"]] == [
        "P03"
    ]
    assert grants_json(list_grants(world.uow, campaign_id="other"))["data"] == []
    for bad in (0, 1001):
        with pytest.raises(InputError) as caught:
            list_grants(world.uow, limit=bad)
        assert caught.value.param == "limit"


# -- report, explain, ledger ----------------------------------------------------------


def test_report_numbers(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    before = report_json(campaign_report(world.uow, CID))
    assert (before["state"], before["budget"], before["budget_remaining"]) == (
        "draft",
        "50000000.00",
        "50000000.00",
    )
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    launch_campaign(world.uow, rules, CLOCK, CID, "finance")
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    claim_grant(world.uow, CLOCK, grant_id(CID, "P01"))
    expire_grants(world.uow, Clock(LATER))
    report = report_json(campaign_report(world.uow, CID))
    assert report["state"] == "active"
    assert report["versions"] == [
        {
            "version": 1,
            "content_hash": report["versions"][0]["content_hash"],
            "author": "ops",
            "approved_by": "finance",
            "approved": True,
        }
    ]
    assert (report["issued_amount"], report["claimed_amount"], report["expired_amount"]) == (
        "5297.00",
        "1999.00",
        "3298.00",
    )
    assert (report["outstanding_amount"], report["revoked_amount"]) == ("0.00", "0.00")
    assert report["budget_remaining"] == "49998001.00"
    assert report["grants"] == {
        "issued": 0,
        "claimed": 1,
        "paying": 0,
        "paid": 0,
        "payout_failed": 0,
        "expired": 2,
        "revoked": 0,
    }


def test_explain_lists_every_condition_with_the_deciding_values(world: World) -> None:
    launch(world)
    late = explanation_json(explain_account(world.uow, rules, "A-cn-3", CID))
    (p04,) = late["purchases"]
    window = p04["conditions"][0]
    assert window["name"] == "purchased" and not window["passed"]
    assert "2011-12-08T00:30:00+08:00" in window["detail"] and "1 day(s) outside" in window["detail"]
    assert all(c["passed"] for c in p04["conditions"][1:]) and not late["qualifies"]
    hk = explanation_json(explain_account(world.uow, rules, "A-hk-1", CID))
    region = next(c for c in hk["purchases"][0]["conditions"] if "region" in c["name"])
    assert not region["passed"] and region["detail"] == "account.region = 'HK'"
    assert hk["region"] == "HK" and hk["terms_version"] == 1

    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    founder = explanation_json(explain_account(world.uow, rules, "A-cn-1", CID))
    first, second = founder["purchases"]
    assert first["qualifies"] and first["grant"]["amount"] == "1999.00"
    assert second["qualifies"] and second["grant"] is None
    assert second["why_no_grant"]["code"] == "per_account" and second["why_no_grant"]["purchases"] == ["P01"]
    with pytest.raises(NotFoundError) as caught:
        explain_account(world.uow, rules, "A-nobody", CID)
    assert caught.value.code == "account_not_found"


def test_explain_before_approval_uses_the_latest_terms(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    result = explanation_json(explain_account(world.uow, rules, "A-cn-5", CID))
    assert [p["qualifies"] for p in result["purchases"]] == [False, False, True]  # P07, P08, P10


def test_ledger_verify_is_ok_and_detects_tampering_in_the_store(world: World) -> None:
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    verified = verify_ledger(world.uow)
    assert verified.ok and verified.entries == 3 and verified.head_seq == 3
    assert verified.campaigns == (CampaignBooks(CID, "CNY", 4_999_470_300, 529_700),)
    assert ledger_check_json(verified)["campaigns"] == [
        {"campaign": CID, "currency": "CNY", "budget_remaining": "49994703.00", "owed_unopened": "5297.00"}
    ]
    entry = world.store.ledger[1]  # an issue posting
    world.store.ledger[1] = entry._replace(transfer=entry.transfer._replace(amount=entry.transfer.amount + 1))
    broken = verify_ledger(world.uow)
    assert not broken.ok and any("edited" in p for p in broken.problems)
    world.store.ledger[1] = entry
    assert verify_ledger(world.uow).ok
    del world.store.ledger[1]
    assert any("missing" in p for p in verify_ledger(world.uow).problems)


def test_ledger_verify_detects_books_disagreeing_with_the_budget(world: World) -> None:
    launch(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    budget = world.store.budgets[CID]
    world.store.budgets[CID] = dataclasses.replace(budget, remaining_minor=budget.remaining_minor + 1)
    problems = verify_ledger(world.uow).problems
    assert any("budget remaining" in p for p in problems)


# -- property: issuance never pays twice, never overspends, limits hold ----------------

WINDOW_START = parse_instant("2011-09-01T00:00:00+08:00")
WINDOW_END = parse_instant("2011-12-08T00:00:00+08:00")
PROP_ACCOUNTS = [("B1", "CN"), ("B2", "CN"), ("B3", "CN"), ("B4", "HK")]

purchase_rows = st.lists(
    st.tuples(
        st.sampled_from([a for a, _ in PROP_ACCOUNTS]),
        st.sampled_from(["mi-1", "mi-1", "mi-1", "mi-2"]),
        st.sampled_from(["", "S1", "S2", "S3"]),
        st.integers(-3 * 24, 100 * 24),  # hours after the window's first instant
        st.sampled_from([1, 9_900, 99_900, 149_900, 199_900]),
        st.sampled_from(["completed", "completed", "completed", "returned"]),
    ),
    max_size=14,
)


def qualifies(p: PurchaseRecord, region: str) -> bool:
    return (
        WINDOW_START <= p.purchased_at_us < WINDOW_END
        and p.sku == "mi-1"
        and region == "CN"
        and p.status == "completed"
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=purchase_rows,
    split=st.integers(0, 14),
    budget=st.one_of(st.integers(1, 700_000), st.just(10**9)),
    per_account=st.sampled_from([None, 1, 2]),
    per_serial=st.sampled_from([None, 1]),
    cap=st.sampled_from([None, "1500.00"]),
)
def test_issuance_properties(
    rows: list[tuple[str, str, str, int, int, str]],
    split: int,
    budget: int,
    per_account: int | None,
    per_serial: int | None,
    cap: str | None,
) -> None:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    regions = dict(PROP_ACCOUNTS)
    import_accounts(uow, [[AccountRecord(a, r, 0) for a, r in PROP_ACCOUNTS]])
    purchases = [
        PurchaseRecord(f"Q{i:02d}", a, sku, serial, WINDOW_START + h * 3_600_000_000, price, "CNY", st_, "")
        for i, (a, sku, serial, h, price, st_) in enumerate(rows)
    ]
    doc = campaign(
        budget=f"{budget // 100}.{budget % 100:02d}",
        limits={"per_account": per_account, "per_serial": per_serial},
        benefit={"amount": "price_paid", "max_amount": cap},
    )
    apply_campaign(uow, rules, CLOCK, doc, "ops")
    approve_campaign(uow, rules, CLOCK, CID, "finance")
    launch_campaign(uow, rules, CLOCK, CID, "finance")
    for batch in (purchases[:split], purchases[split:]):
        import_purchases(uow, [batch])
        for _ in range(2):
            planned = simulate_campaign(uow, rules, CID).plan.grants
            assert run_campaign(uow, rules, CLOCK, CID, "ops").issued == planned
        assert run_campaign(uow, rules, CLOCK, CID, "ops").issued == 0

    grants = list(store.grants.values())
    by_id = {p.purchase_id: p for p in purchases}
    assert len({g.purchase_id for g in grants}) == len(grants)
    # Every grant is booked by exactly one issue posting, and each posting equals its grants.
    postings = {e.transfer.id: e.transfer.amount for e in store.ledger if e.transfer.kind == "issue"}
    booked: dict[str, int] = {}
    for g in grants:
        booked[store.grant_postings[g.id]] = booked.get(store.grant_postings[g.id], 0) + g.amount_minor
    assert booked == postings
    spent = sum(g.amount_minor for g in grants)
    assert spent <= budget and store.budgets[CID].remaining_minor == budget - spent
    accounts: dict[str, int] = {}
    serials: dict[str, int] = {}
    for g in grants:
        p = by_id[g.purchase_id]
        assert qualifies(p, regions[p.account_id])
        assert 0 < g.amount_minor <= p.price_minor and (cap is None or g.amount_minor <= 150_000)
        accounts[p.account_id] = accounts.get(p.account_id, 0) + 1
        if p.serial:
            serials[p.serial] = serials.get(p.serial, 0) + 1
    assert per_account is None or max(accounts.values(), default=0) <= per_account
    assert per_serial is None or max(serials.values(), default=0) <= per_serial
    verified = verify_ledger(uow)
    assert verified.ok, verified.problems
