"""Promise groups, stacking, why a qualifying purchase has no grant, and the launch shortfall (ADR 15).

On the in-memory adapters. The founders' data: P01 (A-cn-1, S1), P03 (A-cn-2) and P10 (A-cn-5)
are paid; P02 is A-cn-1's second purchase (per account), P05 resold device S1 (per serial).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.grant import GrantState
from pledge.entrypoints.explain_json import explanation_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import expire_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.shortfall import Shortfall
from pledge.usecases.simulate import simulate_campaign
from pledge.usecases.why import BudgetExhausted, DeviceGrant, PerSerialTaken
from tests.support.data import campaign
from tests.unit.test_usecases import (
    CLOCK,
    LATER,
    Clock,
    World,
    account_records,
    purchase,
    purchase_records,
    rules,
)

CID, COPY = "founders-refund", "founders-refund-copy"


@pytest.fixture
def world() -> World:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    import_accounts(uow, [account_records()])
    import_purchases(uow, [purchase_records()])
    return World(store, uow)


def start(w: World, campaign_id: str = CID, accept_shortfall: int | None = None, **changes: Any) -> None:
    apply_campaign(w.uow, rules, CLOCK, campaign(id=campaign_id, **changes), "ops")
    approve_campaign(w.uow, rules, CLOCK, campaign_id, "finance")
    launch_campaign(w.uow, rules, CLOCK, campaign_id, "finance", accept_shortfall)


def why(w: World, account: str, campaign_id: str = CID) -> dict[str, Any]:
    """purchase id → its reason for having no grant (qualifying purchases without one only)."""
    explained = explanation_json(explain_account(w.uow, rules, account, campaign_id))
    return {p["purchase_id"]: p["why_no_grant"] for p in explained["purchases"] if "why_no_grant" in p}


# -- terms ---------------------------------------------------------------------------------


def test_group_and_stacking_are_part_of_the_terms_and_their_hash() -> None:
    default = parse_cashback_terms(campaign())
    assert (default.group, default.stacking.value) == ("default", "excluded")
    assert "group" not in default.canonical() and "stacking" not in default.canonical()
    stated = parse_cashback_terms(campaign(group="default", stacking="excluded"))
    assert stated.content_hash == default.content_hash  # the defaults, spelt out: the same terms
    stacking = parse_cashback_terms(campaign(stacking="allowed"))
    grouped = parse_cashback_terms(campaign(group="spring-2012"))
    assert len({default.content_hash, stacking.content_hash, grouped.content_hash}) == 3
    assert parse_cashback_terms(stacking.canonical()) == stacking  # stored form reads back
    for bad, param in (({"group": "Spring 2012"}, "group"), ({"stacking": "yes"}, "stacking")):
        with pytest.raises(InputError) as caught:
            parse_cashback_terms(campaign(**bad))
        assert caught.value.param == param


def test_changing_stacking_is_a_new_version_that_needs_approval(world: World) -> None:
    start(world)
    changed = apply_campaign(world.uow, rules, CLOCK, campaign(stacking="allowed"), "ops")
    assert changed.changed and changed.version == 2
    approved = approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert (approved.stacking, approved.group) == ("allowed", "default")


# -- A: a copied campaign pays nothing twice -----------------------------------------------


def test_a_copied_campaign_pays_nothing_twice_and_its_dry_run_says_who_paid(world: World) -> None:
    start(world)
    assert run_campaign(world.uow, rules, CLOCK, CID, "ops").issued == 3
    start(world, COPY)
    dry = simulate_campaign(world.uow, rules, COPY)
    assert (dry.plan.grants, dry.plan.already_paid, dry.already_paid_by) == (0, 3, {CID: 3})
    assert (dry.group, dry.stacking.value) == ("default", "excluded")
    assert not [p for p in dry.problems if p.code == "stacking_allowed"]
    run = run_campaign(world.uow, rules, CLOCK, COPY, "ops")
    assert (run.issued, run.already_paid) == (dry.plan.grants, dry.plan.already_paid)
    assert why(world, "A-cn-5", COPY)["P10"]["code"] == "already_paid"
    assert why(world, "A-cn-5", COPY)["P10"]["campaign"] == CID
    # P01, paid by the original, takes A-cn-1's limit and device S1's in the copy too: the copy does
    # not pay the same person's second phone (P02) or the resold device (P05) instead.
    p02 = why(world, "A-cn-1", COPY)["P02"]
    assert p02["code"] == "per_account"
    assert p02["message"] == f"the limit per account (1) was taken by purchase P01 (paid by campaign {CID})"
    p05 = why(world, "A-cn-4", COPY)["P05"]
    assert p05["code"] == "per_serial" and p05["purchases"] == ["P01"]
    assert p05["message"] == (
        f"the limit per serial S1 (1) was taken by purchase P01 (of account A-cn-1, paid by campaign {CID})"
    )
    # The original's own re-run still counts its grants as its own, not as paid by the copy.
    again = simulate_campaign(world.uow, rules, CID)
    assert (again.plan.already_granted, again.plan.already_paid) == (3, 0)


def test_expired_grants_still_count_as_paid_and_revoked_ones_do_not(world: World) -> None:
    start(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert expire_grants(world.uow, Clock(LATER)).expired == 3
    start(world, COPY)
    assert simulate_campaign(world.uow, rules, COPY).plan.already_paid == 3
    revoked = next(g for g in world.store.grants.values() if g.purchase_id == "P10")
    world.store.grants[revoked.id] = dataclasses.replace(revoked, state=GrantState.REVOKED)
    dry = simulate_campaign(world.uow, rules, COPY)
    assert (dry.plan.grants, dry.plan.already_paid) == (1, 2)
    assert run_campaign(world.uow, rules, CLOCK, COPY, "ops").issued == 1


def test_another_group_pays_again_without_a_word(world: World) -> None:
    start(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    start(world, COPY, group="spring-2012")
    dry = simulate_campaign(world.uow, rules, COPY)
    assert (dry.plan.grants, dry.plan.already_paid, dry.group) == (3, 0, "spring-2012")
    assert run_campaign(world.uow, rules, CLOCK, COPY, "ops").issued == 3


def test_stacking_allowed_pays_again_and_the_approver_is_told(world: World) -> None:
    start(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    apply_campaign(world.uow, rules, CLOCK, campaign(id=COPY, stacking="allowed"), "ops")
    dry = simulate_campaign(world.uow, rules, COPY)
    (problem,) = [p for p in dry.problems if p.code == "stacking_allowed"]
    assert problem.count == 3 and not problem.blocking and problem.campaigns == {CID: 3}
    assert problem.message.startswith(f"stacking allowed: 3 qualifying purchases already paid by {CID}")
    assert (dry.plan.grants, dry.plan.already_paid, dry.paid_again_by) == (3, 0, {CID: 3})
    approved = approve_campaign(world.uow, rules, CLOCK, COPY, "finance")
    assert approved.stacking == "allowed"
    launch_campaign(world.uow, rules, CLOCK, COPY, "finance")
    assert run_campaign(world.uow, rules, CLOCK, COPY, "ops").issued == 3


def test_the_group_moves_only_with_an_approved_version(world: World) -> None:
    start(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    apply_campaign(world.uow, rules, CLOCK, campaign(group="elsewhere"), "ops")  # not approved
    assert world.store.campaigns[CID].promise_group == "default"
    start(world, COPY)
    assert simulate_campaign(world.uow, rules, COPY).plan.already_paid == 3
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert world.store.campaigns[CID].promise_group == "elsewhere"
    assert simulate_campaign(world.uow, rules, COPY).plan.already_paid == 0


# -- B: why a qualifying purchase has no grant ---------------------------------------------


def test_why_no_grant_per_account_and_per_serial(world: World) -> None:
    start(world)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    p02 = why(world, "A-cn-1")["P02"]
    assert (p02["code"], p02["purchases"]) == ("per_account", ["P01"])
    assert p02["message"] == "the limit per account (1) was taken by purchase P01"
    p05 = why(world, "A-cn-4")["P05"]
    assert (p05["code"], p05["purchases"], p05["accounts"]) == ("per_serial", ["P01"], ["A-cn-1"])
    assert p05["message"] == "the limit per serial S1 (1) was taken by purchase P01 (of account A-cn-1)"
    assert why(world, "A-cn-2") == {}  # P03 was paid: nothing to explain
    typed = {p.purchase_id: p for p in explain_account(world.uow, rules, "A-cn-4", CID).purchases}
    assert typed["P05"].why_no_grant == PerSerialTaken(1, "S1", (DeviceGrant("P01", "A-cn-1", None),))
    assert typed["P05"].qualifies and typed["P05"].grant is None


def test_why_no_grant_budget_names_where_it_ran_out_in_issuance_order(world: World) -> None:
    # In order: P01 paid (1999 of 3000), P02 per account, P05 per serial, P10 (1499) meets 1001 left.
    start(world, accept_shortfall=2, budget="3000.00")
    run = run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert (run.issued, run.budget_exhausted) == (1, 2)
    for account, pid in (("A-cn-5", "P10"), ("A-cn-2", "P03")):
        reason = why(world, account)[pid]
        assert (reason["code"], reason["position"], reason["of"], reason["purchase_id"]) == (
            "budget_exhausted",
            4,
            5,
            "P10",
        )
        assert reason["message"].startswith("the budget ran out at purchase 4 of 5 in issuance order (P10,")
    explained = explain_account(world.uow, rules, "A-cn-5", CID)
    typed = {p.purchase_id: p.why_no_grant for p in explained.purchases}["P10"]
    assert isinstance(typed, BudgetExhausted)
    assert (typed.position, typed.of, typed.purchase_id) == (4, 5, "P10")


def test_why_no_grant_budget_after_a_run_that_did_not_say_where(world: World) -> None:
    start(world, accept_shortfall=2, budget="3000.00")
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    # A run recorded before runs named where the budget ran out: only how many it left out.
    world.store.events = [
        (c, kind, actor, at, detail.replace('"budget_ran_out"', '"older"'))
        for c, kind, actor, at, detail in world.store.events
    ]
    reason = why(world, "A-cn-5")["P10"]
    assert reason == {
        "code": "budget_exhausted",
        "message": "the budget ran out at the last run: 2 qualifying purchases got nothing",
    }


def test_why_no_grant_not_yet_issued(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    assert why(world, "A-cn-5")["P10"]["code"] == "not_launched"
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    launch_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert why(world, "A-cn-5")["P10"]["message"] == "not yet issued: the campaign has not run yet"
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    late = purchase("P11", "A-cn-3", "mi-1", "S11", "2011-09-15T10:00:00+08:00", "999.00", "completed")
    import_purchases(world.uow, [[late]])
    reason = why(world, "A-cn-3")["P11"]
    assert reason["code"] == "not_yet_run"
    assert reason["message"] == "not yet issued: the campaign has not run since this purchase was imported"
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    assert why(world, "A-cn-3") == {}


# -- C: a launch that cannot pay everyone ---------------------------------------------------


def test_launch_with_a_shortfall_needs_its_exact_acknowledgement(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(budget="3000.00"), "ops")
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    assert simulate_campaign(world.uow, rules, CID).plan.budget_exhausted == 2
    for accepted in (None, 1, 3):
        with pytest.raises(RefusedError) as caught:
            launch_campaign(world.uow, rules, CLOCK, CID, "finance", accepted)
        assert caught.value.code == "budget_shortfall"
        # P01 + P03 + P10 = 5297.00 against 3000.00
        assert "2 qualifying purchases would get nothing" in str(caught.value)
        assert "3000.00 CNY is 2297.00 CNY short" in str(caught.value)
    assert world.store.campaigns[CID].state.value == "approved" and not world.store.budgets
    launched = launch_campaign(world.uow, rules, CLOCK, CID, "finance", 2)
    assert launched.accepted_shortfall == Shortfall(purchases=2, missing_minor=229_700, budget_minor=300_000)
    (event,) = [e for e in world.store.events if e[1] == "launched"]
    assert '"accepted_shortfall"' in event[4] and '"missing": "2297.00"' in event[4]


def test_an_acknowledgement_without_a_shortfall_is_refused(world: World) -> None:
    apply_campaign(world.uow, rules, CLOCK, campaign(), "ops")
    approve_campaign(world.uow, rules, CLOCK, CID, "finance")
    with pytest.raises(RefusedError) as caught:
        launch_campaign(world.uow, rules, CLOCK, CID, "finance", 2)
    assert caught.value.code == "budget_shortfall" and "pays every qualifying purchase" in str(caught.value)
    assert launch_campaign(world.uow, rules, CLOCK, CID, "finance").accepted_shortfall is None
