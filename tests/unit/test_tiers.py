"""Tiers on the in-memory adapters: the same hand calculation as on the databases
(tests/support/tiers.py), the tier on every grant, and the parsing rules of ``tiers:``."""

from __future__ import annotations

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.benefit import Capped, Fixed, PricePaid
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.timeutil import parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ports import UnitOfWorkFactory
from pledge.usecases.simulate import simulate_campaign
from tests.support.tiers import (
    EXPECTED_TIER_GRANTS,
    TIER_PURCHASES,
    check_binding_budget,
    check_simulation,
    tiered_campaign,
)
from tests.unit.test_usecases import CID, CLOCK, account_records, purchase_records, rules


@pytest.fixture
def uow() -> UnitOfWorkFactory:
    factory = memory_uow_factory(MemoryStore())
    import_accounts(factory, [account_records()])
    import_purchases(factory, [purchase_records(TIER_PURCHASES)])
    return factory


def test_the_dry_run_matches_the_hand_calculation(uow: UnitOfWorkFactory) -> None:
    apply_campaign(uow, rules, CLOCK, tiered_campaign(), "ops")
    check_simulation(simulate_campaign(uow, rules, CID, widen_days=2))


def test_a_binding_budget_is_shared_by_the_tiers(uow: UnitOfWorkFactory) -> None:
    apply_campaign(uow, rules, CLOCK, tiered_campaign(budget="5500.00"), "ops")
    check_binding_budget(simulate_campaign(uow, rules, CID))


def test_every_grant_carries_its_tier(uow: UnitOfWorkFactory) -> None:
    apply_campaign(uow, rules, CLOCK, tiered_campaign(), "ops")
    approve_campaign(uow, rules, CLOCK, CID, "finance")
    launch_campaign(uow, rules, CLOCK, CID, "finance")
    run_campaign(uow, rules, CLOCK, CID, "ops")
    with uow() as u:
        grants = u.grants.for_purchases(CID, list(EXPECTED_TIER_GRANTS))
        tiers = u.grants.tier_totals(CID)
    assert {p: (g.amount_minor, g.tier) for p, g in grants.items()} == EXPECTED_TIER_GRANTS
    assert tiers == {("founders", "issued"): (3, 529_700), ("just-missed", "issued"): (2, 39_980)}


def test_the_tiers_build_one_benefit_and_keep_their_hash() -> None:
    terms = parse_cashback_terms(tiered_campaign())
    assert (terms.window.first.isoformat(), terms.window.last.isoformat()) == ("2011-09-01", "2011-12-31")
    assert [t.amount for t in terms.benefit.tiers] == [Capped(PricePaid(), 199_900), Fixed(19_990)]
    dec_8 = parse_instant("2011-12-08T00:00:00+08:00")
    assert terms.benefit.tier_of(dec_8 - 1) == "founders"
    assert terms.benefit.tier_of(dec_8) == "just-missed"
    assert terms.benefit.amount_minor(299_900, dec_8 - 1) == 199_900
    assert terms.benefit.amount_minor(299_900, dec_8) == 19_990
    assert terms.benefit.may_exceed_price, "a fixed goodwill amount may exceed a cheap purchase's price"
    again = parse_cashback_terms(terms.canonical())  # what is stored parses back to the same terms
    assert again.content_hash == terms.content_hash
    assert again.benefit == terms.benefit


def test_overlapping_tiers_pay_the_first_that_holds_the_purchase() -> None:
    doc = tiered_campaign()
    doc["tiers"].insert(
        0, {"id": "launch-day", "purchased": {"from": "2011-09-01", "to": "2011-09-01"}, "amount": "10.00"}
    )
    terms = parse_cashback_terms(doc)
    first = parse_instant("2011-09-01T12:00:00+08:00")
    assert (terms.benefit.tier_of(first), terms.benefit.amount_minor(199_900, first)) == ("launch-day", 1_000)
    assert terms.benefit.tier_of(first + 86_400_000_000) == "founders"
