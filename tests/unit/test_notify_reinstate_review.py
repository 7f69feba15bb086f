"""Four-eyes on ``grants reinstate`` above ``payout.reinstate_review_above``, on the memory fakes:
the first person records a pending approval (the grant stays expired), the same person with another
key is refused, a different person re-opens it; below the amount one person does."""

from __future__ import annotations

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.grant import GrantState
from pledge.domain.money import parse_minor
from pledge.domain.persons import key_actor
from pledge.domain.reinstatements import REQUESTED
from pledge.entrypoints.claims_json import reinstatement_json
from pledge.usecases.grants import expire_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.reinstate import reinstate_grant
from tests.support.data import campaign
from tests.support.notify import account_records
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

PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "reinstate_review_above": "500.00"}
WANG, WANG_AGAIN, LI = (
    key_actor("support.wang", "key_1"),
    key_actor("Support.Wang", "key_2"),
    "support.li (key_3)",
)


def _expired_world(payout: dict[str, str] = PAYOUT) -> World:
    store = MemoryStore()
    world = World(store, memory_uow_factory(store))
    import_accounts(world.uow, [account_records()])
    import_purchases(world.uow, [purchase_records()])
    launch(world, payout=payout)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    expire_grants(world.uow, Clock(LATER))
    return world


def test_the_amount_is_part_of_the_campaign_terms() -> None:
    terms = parse_cashback_terms(campaign(payout=PAYOUT))
    assert terms.payout.reinstate_review_above_minor == 50_000
    assert terms.canonical()["payout"]["reinstate_review_above"] == "500.00"
    assert "reinstate_review_above" not in parse_cashback_terms(campaign()).canonical()["payout"]
    with pytest.raises(InputError, match=r"payout\.reinstate_review_above"):
        parse_cashback_terms(campaign(payout={**PAYOUT, "reinstate_review_above": 5.5}))


def test_above_the_amount_two_different_persons_reopen_it() -> None:
    world = _expired_world()
    grant = grants_by_purchase(world)["P01"]  # 1999.00 > 500.00
    before = world.store.budgets[CID].remaining_minor
    first = reinstate_grant(world.uow, Clock(LATER), grant["id"], "she never heard of it", WANG)
    assert first.grant.state is GrantState.EXPIRED and first.pending is not None
    assert first.pending.approved_by == (WANG,)
    assert reinstatement_json(first)["reinstatement"] == {
        "state": "pending_second_approval",
        "approved_by": [WANG],
        "review_above": "500.00",
        "message": "1999.00 CNY is above 500.00: a second, different person re-opens it",
    }
    assert world.store.budgets[CID].remaining_minor == before  # nothing moved yet
    with world.uow() as uow:
        requested = [e for e in uow.campaigns.events(CID) if e["kind"] == REQUESTED]
    assert [(e["actor"], e["detail"]["grant"]) for e in requested] == [(WANG, grant["id"])]
    with pytest.raises(RefusedError, match="second, different person") as refused:
        reinstate_grant(world.uow, Clock(LATER), grant["id"], "again, my other key", WANG_AGAIN)
    assert refused.value.code == "four_eyes"
    reopened = reinstate_grant(world.uow, Clock(LATER), grant["id"], "agreed", LI)
    assert reopened.grant.state is GrantState.ISSUED and reopened.pending is None
    assert "reinstatement" not in reinstatement_json(reopened)
    assert world.store.budgets[CID].remaining_minor == before - 199_900
    assert verify_ledger(world.uow).ok


def test_an_approval_counts_for_one_expiry_only() -> None:
    world = _expired_world()
    grant_id = grants_by_purchase(world)["P01"]["id"]
    reinstate_grant(world.uow, Clock(LATER), grant_id, "first", WANG)
    reinstate_grant(world.uow, Clock(LATER), grant_id, "second", LI)
    expire_grants(world.uow, Clock(LATER + 31 * 86_400 * 1_000_000))
    again = reinstate_grant(world.uow, Clock(LATER + 32 * 86_400 * 1_000_000), grant_id, "once more", LI)
    assert again.grant.state is GrantState.EXPIRED
    assert again.pending is not None and again.pending.approved_by == (LI,)
    assert verify_ledger(world.uow).ok


def test_below_the_amount_one_person_reopens_and_nobody_their_own() -> None:
    world = _expired_world({**PAYOUT, "reinstate_review_above": "1999.00"})  # not above: one person
    small, big = grants_by_purchase(world)["P01"], grants_by_purchase(world)["P03"]
    assert parse_minor(small["amount"], "CNY") == 199_900
    assert (
        reinstate_grant(world.uow, Clock(LATER), small["id"], "missed it", WANG).grant.state
        is GrantState.ISSUED
    )
    with pytest.raises(RefusedError, match="own envelope"):
        reinstate_grant(world.uow, Clock(LATER), big["id"], "mine", f"{big['account_id']} (key_9)")
