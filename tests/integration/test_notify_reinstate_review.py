"""Four-eyes on re-opening an expired envelope, on SQLite and PostgreSQL: the pending approval is a
campaign event in the same transaction as the grant's lock, a second key of the same person is
refused, a different person re-opens it through the ledger, and the ledger verifies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock
from pledge.domain.errors import RefusedError
from pledge.domain.grant import GrantState
from pledge.domain.reinstatements import REQUESTED
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.presenters import grants_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.grants import expire_grants, list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.reinstate import reinstate_grant
from tests.support.data import campaign
from tests.support.notify import NOW, account_records
from tests.unit.test_usecases import purchase_records, rules

CID = "founders-refund"
DAY = 86_400 * 1_000_000
PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "reinstate_review_above": "500.00"}
WANG, WANG_AGAIN, LI = "support.wang (key_1)", "Support.Wang (key_2)", "support.li (key_3)"


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = App(db_url)
    upgrade(app.engine)
    clock = FixedClock(parse_instant(NOW))
    import_accounts(app.uow, [account_records()])
    import_purchases(app.uow, [purchase_records()])
    apply_campaign(app.uow, rules, clock, campaign(payout=PAYOUT), "ops")
    approve_campaign(app.uow, rules, clock, CID, "finance")
    launch_campaign(app.uow, rules, clock, CID, "finance")
    run_campaign(app.uow, rules, clock, CID, "ops")
    expire_grants(app.uow, FixedClock(parse_instant(NOW) + 31 * DAY))
    yield app
    app.close()


def _grant(app: App) -> dict[str, Any]:
    return next(
        g for g in grants_json(list_grants(app.uow, campaign_id=CID))["data"] if g["purchase_id"] == "P01"
    )


def test_two_different_persons_reopen_it_and_the_ledger_verifies(app: App) -> None:
    later = FixedClock(parse_instant(NOW) + 32 * DAY)
    gid = _grant(app)["id"]
    with app.uow() as uow:
        before = uow.budgets.get(CID)
    assert before is not None
    first = reinstate_grant(app.uow, later, gid, "she never heard of it", WANG)
    assert first.grant.state is GrantState.EXPIRED
    assert first.pending is not None and first.pending.approved_by == (WANG,)
    with pytest.raises(RefusedError) as refused:
        reinstate_grant(app.uow, later, gid, "my other key", WANG_AGAIN)
    assert refused.value.code == "four_eyes"
    assert _grant(app)["state"] == "expired"
    assert reinstate_grant(app.uow, later, gid, "agreed", LI).grant.state is GrantState.ISSUED
    with app.uow() as uow:
        after = uow.budgets.get(CID)
        kinds = [(e["kind"], e["actor"]) for e in uow.campaigns.events(CID) if "reinstate" in e["kind"]]
    assert after is not None and after.remaining_minor == before.remaining_minor - 199_900
    assert kinds == [(REQUESTED, WANG), ("grant.reinstated", LI)]
    assert verify_ledger(app.uow).ok


def test_two_people_at_once_reopen_it_once(app: App) -> None:
    """Both act on the locked grant one after the other: one records, the other completes."""
    later = FixedClock(parse_instant(NOW) + 32 * DAY)
    gid = _grant(app)["id"]
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def act(actor: str) -> None:
        barrier.wait()
        results.append(reinstate_grant(app.uow, later, gid, "at once", actor).grant.state.value)

    threads = [threading.Thread(target=act, args=(who,)) for who in (WANG, LI)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["expired", "issued"], results
    with app.uow() as uow:
        reopened = [e for e in uow.campaigns.events(CID) if e["kind"] == "grant.reinstated"]
    assert len(reopened) == 1
    assert verify_ledger(app.uow).ok
