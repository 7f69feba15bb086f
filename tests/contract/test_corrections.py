"""The ``Corrections`` port: live grants of accounts, purchases as stored, one claw-back case per grant."""

from __future__ import annotations

import dataclasses

import pytest

from pledge.domain.corrections import ClawbackCase
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.records import PurchaseRecord
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store, account, campaign


def _grant(campaign_id: str, purchase_id: str, account_id: str, amount: int = 100) -> Grant:
    gid = grant_id(campaign_id, purchase_id)
    return Grant(gid, campaign_id, 1, account_id, purchase_id, amount, "CNY", GrantState.ISSUED, 10, 1_000)


def _purchase(purchase_id: str, account_id: str) -> PurchaseRecord:
    return PurchaseRecord(purchase_id, account_id, "sku-1", "S1", 500, 9_900, "CNY", "completed", "web")


def _seed_grants(u: UnitOfWork) -> list[Grant]:
    """A1: issued, claimed, paid, expired; A2: revoked, issued; A3: issued."""
    u.campaigns.add(campaign("c1"))
    grants = [_grant("c1", f"P{n}", "A1", 100 + n) for n in range(4)]
    grants += [_grant("c1", "P4", "A2"), _grant("c1", "P5", "A2"), _grant("c1", "P6", "A3")]
    u.grants.add_many(grants, [""] * len(grants), posting_id="issue:c1:1")
    changed = [grants[1].claim(20), grants[2].claim(20).pay(30), grants[3].expire(1_000)]
    changed.append(grants[4].revoke(40, "purchase_returned"))
    for grant in changed:
        u.grants.update(grant)
    return [grants[0], *changed[:3], changed[3], grants[5], grants[6]]


def test_live_grants_are_the_issued_claimed_and_paid_of_those_accounts(uow: UnitOfWork) -> None:
    grants = _seed_grants(uow)
    live = uow.corrections.live_grants_of_accounts(["A1", "A2", "A9", "A1"])
    assert sorted(live, key=lambda g: g.id) == sorted([*grants[:3], grants[5]], key=lambda g: g.id)
    assert uow.corrections.live_grants_of_accounts([]) == []


def test_purchases_come_with_their_account_as_a_rule_reads_it(uow: UnitOfWork) -> None:
    """The account's rule fields (region, registration), not its contacts: what issuance read."""
    uow.purchases.add_accounts([account("A1", email="a1@example.com", phone="+8613800000000")], update=False)
    uow.purchases.add_purchases([_purchase("P1", "A1"), _purchase("P2", "A1")], update=False)
    found = uow.corrections.purchases(["P2", "P9", "P1"])
    assert found == {
        "P1": (_purchase("P1", "A1"), account("A1")),
        "P2": (_purchase("P2", "A1"), account("A1")),
    }
    assert uow.corrections.purchases([]) == {}


def _case(grant: Grant, reason: str = "purchase_returned") -> ClawbackCase:
    return ClawbackCase.for_grant(grant, reason, 50)


def test_a_grant_has_one_claw_back_case(uow: UnitOfWork) -> None:
    grants = _seed_grants(uow)
    assert uow.corrections.open_clawback(_case(grants[1]))
    assert not uow.corrections.open_clawback(_case(grants[1], "another reason"))
    found = uow.corrections.clawbacks_of_grants([grants[1].id, grants[2].id])
    assert found == {grants[1].id: _case(grants[1])}
    assert uow.corrections.clawbacks_of_grants([]) == {}


def test_claw_back_cases_page_in_id_order_and_total_per_state(uow: UnitOfWork) -> None:
    grants = _seed_grants(uow)
    uow.campaigns.add(campaign("c2"))
    other = _grant("c2", "P1", "A1", 7)
    cases = sorted([_case(g) for g in grants[:3]], key=lambda c: c.id)
    for case in [*cases, _case(other)]:
        assert uow.corrections.open_clawback(case)
    page = uow.corrections.clawbacks
    assert page(campaign_id="c1", state=None, starting_after=None, limit=10) == cases
    assert page(campaign_id="c1", state="open", starting_after=cases[0].id, limit=1) == cases[1:2]
    assert page(campaign_id=None, state=None, starting_after=None, limit=10) == sorted(
        [*cases, _case(other)], key=lambda c: c.id
    )
    assert page(campaign_id="c1", state="closed", starting_after=None, limit=10) == []
    assert uow.corrections.clawback_totals("c1") == {"open": (3, 100 + 101 + 102)}
    assert uow.corrections.clawback_totals("c9") == {}


def test_a_case_owes_a_positive_amount(store: Store) -> None:
    with store.uow() as u:
        grant = _seed_grants(u)[1]
        u.commit()
    nothing_owed = dataclasses.replace(_case(grant), amount_minor=0)
    with store.uow() as u, pytest.raises(store.refused):
        u.corrections.open_clawback(nothing_owed)
