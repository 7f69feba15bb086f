"""The ``Grants.count_due``/``expire_due`` contract, the same on the memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from pledge.domain.campaign import CampaignState
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


def test_expiry_batches_take_each_due_grant_once(store: Store) -> None:
    seeded = _seed(store.uow)
    due = {grant_id("x", f"P{n}") for n in range(1, 5)} | {grant_id("y", f"P{n}") for n in range(3)}
    with store.uow() as u:
        assert u.grants.count_due(T1 - 1) == 0
        assert u.grants.count_due(T1) == len(due) == 7
    per_campaign: dict[str, list[int]] = {"x": [0, 0], "y": [0, 0]}
    after, batches = "", 0
    while True:
        with store.uow() as u:
            batch = u.grants.expire_due(T1, 3, after)
            u.commit()
        if not batch.campaigns:
            break
        batches += 1
        assert batch.count <= 3
        after = batch.resume_after
        for c in batch.campaigns:
            assert c.currency == "CNY" and c.first_grant_id in due
            assert seeded[c.first_grant_id].campaign_id == c.campaign_id
            per_campaign[c.campaign_id][0] += c.count
            per_campaign[c.campaign_id][1] += c.amount_minor
    assert batches == 3
    assert per_campaign == {"x": [4, 101 + 102 + 103 + 104], "y": [3, 1_000 + 1_001 + 1_002]}
    with store.uow() as u:
        stored = {gid: u.grants.get(gid) for gid in seeded}
        assert u.grants.count_due(T1) == 0
        assert u.grants.expire_due(T1, 3, "").campaigns == []  # a new pass finds nothing left
    for gid, grant in stored.items():
        assert grant is not None
        if gid in due:
            assert (grant.state, grant.closed_at_us) == (GrantState.EXPIRED, T1)
        else:
            assert grant.state is not GrantState.EXPIRED and grant.closed_at_us is None
