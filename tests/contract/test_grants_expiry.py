"""The ``Grants.expire_due`` contract (ADR 36), the same on the memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from pledge.domain.campaign import CampaignState
from pledge.domain.errors import RefusedError
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.usecases.ports import CampaignRecord, UnitOfWorkFactory
from tests.contract.conftest import Store

T1, T2 = 2_000_000, 3_000_000


def _grant(campaign_id: str, purchase_id: str, amount: int, expires_at_us: int) -> Grant:
    gid = grant_id(campaign_id, purchase_id)
    return Grant(gid, campaign_id, 1, "A1", purchase_id, amount, "CNY", GrantState.ISSUED, 1, expires_at_us)


def _seed(uow: UnitOfWorkFactory) -> dict[str, Grant]:
    """x: five due at T1 (one opened), y: three due at T1 and two at T2."""
    grants = [_grant("x", f"P{n}", 100 + n, T1) for n in range(5)]
    grants += [_grant("y", f"P{n}", 1_000 + n, T1) for n in range(3)]
    grants += [_grant("y", f"Q{n}", 5_000 + n, T2) for n in range(2)]
    with uow() as u:
        for campaign_id in ("x", "y"):
            u.campaigns.add(CampaignRecord(campaign_id, "cashback", CampaignState.ACTIVE, "CNY", 0, 0))
        u.grants.add_many(grants, [""] * len(grants), posting_id="issue:seed")
        u.grants.update(grants[0].claim(T1 - 1))
        u.commit()
    return {g.id: g for g in grants}


def _sweep(store: Store, campaign_id: str, now_us: int) -> list[tuple[str, int, int, str]]:
    with store.uow() as u:
        swept = u.grants.expire_due(campaign_id, now_us)
        u.commit()
    return [(c.currency, c.count, c.amount_minor, c.first_grant_id) for c in swept]


def test_expiry_moves_each_campaigns_mark_and_expires_each_due_grant_once(store: Store) -> None:
    seeded = _seed(store.uow)
    x_due = sorted(grant_id("x", f"P{n}") for n in range(1, 5))
    y_due = sorted(grant_id("y", f"P{n}") for n in range(3))
    assert _sweep(store, "x", T1 - 1) == []  # nothing is due before T1
    assert _sweep(store, "x", T1) == [("CNY", 4, 101 + 102 + 103 + 104, x_due[0])]
    assert _sweep(store, "x", T1) == []  # the mark is at T1 already: nothing twice
    assert _sweep(store, "y", T1) == [("CNY", 3, 1_000 + 1_001 + 1_002, y_due[0])]
    assert _sweep(store, "nobody", T2) == []  # an unknown campaign has nothing to expire
    with store.uow() as u:
        stored = {gid: u.grants.get(gid) for gid in seeded}
        totals = u.grants.totals("y")
        page = {
            g.id: g for g in u.grants.page(campaign_id="y", account_id=None, starting_after=None, limit=10)
        }
    assert totals == {"expired": (3, 3_003), "issued": (2, 10_001)}
    for gid, grant in stored.items():
        assert grant is not None
        if gid in x_due or gid in y_due:  # closed when its window did
            assert (grant.state, grant.closed_at_us) == (GrantState.EXPIRED, T1)
        else:
            assert grant.state is not GrantState.EXPIRED and grant.closed_at_us is None
        if gid in page:
            assert page[gid] == grant  # a list reads them as a lookup does
    # Later, y's other two fall due; a grant written now must outlast the mark.
    assert _sweep(store, "y", T2 + 5) == [("CNY", 2, 10_001, min(grant_id("y", f"Q{n}") for n in range(2)))]
    late = _grant("y", "R1", 7, T2 + 5)
    with store.uow() as u, pytest.raises(RefusedError) as refused:
        u.grants.add_many([late], [""], posting_id="issue:late")
    assert refused.value.code == "behind_expiry"


def test_a_reinstated_grant_reads_issued_again_and_expires_again_later(store: Store) -> None:
    _seed(store.uow)
    assert _sweep(store, "y", T1)[0][1] == 3
    gid = grant_id("y", "P0")
    with store.uow() as u:
        expired = u.grants.get(gid, for_update=True)
        assert expired is not None and expired.state is GrantState.EXPIRED
        with pytest.raises(RefusedError):  # a new window that the mark already covers
            u.grants.update(expired.reinstate(T1 - 10, 5))
        reopened = expired.reinstate(T1, 1_000)
        u.grants.update(reopened)
        u.commit()
    with store.uow() as u:
        assert u.grants.get(gid) == reopened and reopened.state is GrantState.ISSUED
    assert _sweep(store, "y", T1 + 999) == []  # not due yet (its window closes at T1 + 1000)
    assert _sweep(store, "y", T1 + 1_000) == [("CNY", 1, 1_000, gid)]
