"""The ``Grants`` port: one grant per (campaign, purchase), read by id, page, purchase and serial.

Expiry (``expire_due``) has its own suite in test_grants_expiry.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store, campaign


def _grant(campaign_id: str, purchase_id: str, account_id: str = "A1", amount: int = 100) -> Grant:
    gid = grant_id(campaign_id, purchase_id)
    return Grant(gid, campaign_id, 1, account_id, purchase_id, amount, "CNY", GrantState.ISSUED, 10, 1_000)


def _seed(u: UnitOfWork) -> list[Grant]:
    """c1: P1 (A1, serial S1), P2 (A1, S1), P3 (A2, no serial) in one posting, P4 (A2, S2) in
    another; c2: P1 (A1, S1)."""
    u.campaigns.add(campaign("c1"))
    u.campaigns.add(campaign("c2"))
    first = [_grant("c1", "P1", "A1", 100), _grant("c1", "P2", "A1", 200), _grant("c1", "P3", "A2", 300)]
    u.grants.add_many(first, ["S1", "S1", ""], posting_id="issue:c1:1")
    u.grants.add_many([_grant("c1", "P4", "A2", 400)], ["S2"], posting_id="issue:c1:2")
    u.grants.add_many([_grant("c2", "P1", "A1", 50)], ["S1"], posting_id="issue:c2:1")
    u.grants.flush_added()
    return [*first, _grant("c1", "P4", "A2", 400), _grant("c2", "P1", "A1", 50)]


def test_grants_read_back_by_id(uow: UnitOfWork) -> None:
    for grant in _seed(uow):
        assert uow.grants.get(grant.id) == grant
        assert uow.grants.get(grant.id, for_update=True) == grant
    assert uow.grants.get(grant_id("c1", "nothing")) is None


def test_issued_counts_per_account_and_serial(uow: UnitOfWork) -> None:
    _seed(uow)
    by_account, by_serial, purchases = uow.grants.issued_counts("c1")
    assert (by_account, by_serial) == ({"A1": 2, "A2": 2}, {"S1": 2, "S2": 1})
    assert purchases == {"P1", "P2", "P3", "P4"}
    assert uow.grants.issued_counts("c3") == ({}, {}, set())


def test_totals_per_posting_and_per_state(uow: UnitOfWork) -> None:
    grants = _seed(uow)
    uow.grants.update(grants[0].claim(20))
    assert uow.grants.posting_totals("c1") == {"issue:c1:1": 600, "issue:c1:2": 400}
    assert uow.grants.totals("c1") == {"issued": (3, 900), "claimed": (1, 100)}
    assert uow.grants.totals("c3") == {}
    assert uow.grants.posting_totals("c3") == {}


def test_update_changes_the_state_columns_only(uow: UnitOfWork) -> None:
    grants = _seed(uow)
    claimed = grants[0].claim(20)
    revoked = grants[1].revoke(30, "purchase_returned")
    uow.grants.update(dataclasses.replace(claimed, amount_minor=999, account_id="A9"))
    uow.grants.update(revoked)
    assert uow.grants.get(claimed.id) == claimed
    assert uow.grants.get(revoked.id) == revoked
    uow.grants.update(_grant("c9", "P1"))  # touches no row
    assert uow.grants.get(grant_id("c9", "P1")) is None


def test_pages_are_in_id_order(uow: UnitOfWork) -> None:
    grants = _seed(uow)
    ids = sorted(g.id for g in grants)
    page = uow.grants.page
    assert [g.id for g in page(campaign_id=None, account_id=None, starting_after=None, limit=10)] == ids
    assert [g.id for g in page(campaign_id=None, account_id=None, starting_after=ids[1], limit=2)] == ids[2:4]
    of_c1 = sorted(g.id for g in grants if g.campaign_id == "c1")
    assert [g.id for g in page(campaign_id="c1", account_id=None, starting_after=None, limit=10)] == of_c1
    of_a1_in_c1 = sorted(g.id for g in grants if g.campaign_id == "c1" and g.account_id == "A1")
    assert [g.id for g in page(campaign_id="c1", account_id="A1", starting_after="", limit=10)] == of_a1_in_c1
    assert page(campaign_id=None, account_id=None, starting_after=None, limit=0) == []


def test_grants_of_purchases_and_of_a_serial(uow: UnitOfWork) -> None:
    grants = {(g.campaign_id, g.purchase_id): g for g in _seed(uow)}
    found = uow.grants.for_purchases("c1", ["P1", "P4", "P9"])
    assert found == {"P1": grants["c1", "P1"], "P4": grants["c1", "P4"]}
    assert uow.grants.for_purchases("c1", []) == {}
    assert uow.grants.with_serial("c1", "S1", 10) == [grants["c1", "P1"], grants["c1", "P2"]]
    assert uow.grants.with_serial("c1", "S1", 1) == [grants["c1", "P1"]]
    assert uow.grants.with_serial("c1", "S9", 10) == []


def test_a_purchase_is_granted_once_per_campaign(store: Store) -> None:
    with store.uow() as u:
        _seed(u)
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.grants.add_many([_grant("c1", "P1", "A1", 7)], [""], posting_id="issue:c1:3")
    with store.uow() as u, pytest.raises(store.refused):  # one statement: the new grant is not kept either
        u.grants.add_many([_grant("c1", "P8"), _grant("c1", "P8")], ["", ""], posting_id="issue:c1:3")
    with store.uow() as u:
        assert u.grants.get(grant_id("c1", "P1")) == _grant("c1", "P1", "A1", 100)
        assert u.grants.get(grant_id("c1", "P8")) is None


def test_a_grant_needs_no_campaign_row(uow: UnitOfWork) -> None:
    """No foreign key to campaigns (issuance holds the campaign's row lock instead)."""
    grant = _grant("c9", "P1")
    uow.grants.add_many([grant], [""], posting_id="issue:c9:1")
    uow.grants.flush_added()
    assert uow.grants.get(grant.id) == grant


def test_a_staged_run_is_written_by_commit(store: Store) -> None:
    """Several ``add_many`` calls in one unit of work (a large run): ``commit`` writes them all."""
    with store.uow() as u:
        u.campaigns.add(campaign("c1"))
        u.grants.begin_write(3)
        for n in range(3):
            u.grants.add_many([_grant("c1", f"P{n}")], [""], posting_id="issue:c1:1")
        u.commit()
    with store.uow() as u:
        assert u.grants.totals("c1") == {"issued": (3, 300)}
