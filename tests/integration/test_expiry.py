"""Expiry by mark, on SQLite and PostgreSQL, against the in-memory reference (ADR 36).

Each campaign's expiry is one transaction: its mark moves, one ledger posting returns what fell
due. Expiry must expire exactly the due grants, return exactly their value to each budget, keep the
ledger verifiable and write one ``grant.expired`` event per grant; killed at any point (a real
process, SIGKILL), run twice at once, or racing a customer opening an envelope, it must leave a
consistent state in which each grant is either opened or returned to the budget, never both.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pledge.adapters.files.generate import generate
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.adapters.webhooks.store import WebhookStore
from pledge.bootstrap import App, FixedClock
from pledge.domain.audit import canonical_json
from pledge.domain.grant import Grant, GrantState
from pledge.domain.timeutil import format_instant, parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.grants import claim_grant, expire_grants, grant_json
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.ports import UnitOfWorkFactory
from tests.integration.test_scan_agreement import _load
from tests.support import cli_forkserver
from tests.support.data import campaign

DAY = 86_400_000_000
NOW = parse_instant("2012-06-01T12:00:00+08:00")
LATER = NOW + 31 * DAY  # founders (30 days) and early (20 days, run 5 days in) are due; patient (60) not
# Three campaigns over the same crowd: two fall due at different instants, one is not due yet.
CAMPAIGNS = (("founders-refund", "30d", 0), ("early-refund", "20d", 5), ("patient-refund", "60d", 0))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    result = generate(tmp_path_factory.mktemp("crowd"), purchases=3_000, seed=13)
    return result.accounts_path, result.purchases_path


def _issue_all(uow: UnitOfWorkFactory, app: App) -> None:
    """Run the three campaigns, then open every fifth founders' envelope (those never expire)."""
    for campaign_id, claim_within, day in CAMPAIGNS:
        clock = FixedClock(NOW + day * DAY)
        document = campaign(
            id=campaign_id,
            group=campaign_id,  # three promises, each paying the same purchases (ADR 15)
            budget="90000000.00",
            payout={"channel": "red_envelope", "claim_within": claim_within},
        )
        apply_campaign(uow, app.rules, clock, document, "ops")
        approve_campaign(uow, app.rules, clock, campaign_id, "finance")
        launch_campaign(uow, app.rules, clock, campaign_id, "finance")
        run_campaign(uow, app.rules, clock, campaign_id, "ops")
    for grant in sorted(_grants(uow).values(), key=lambda g: g.id)[::5]:
        if grant.campaign_id == "founders-refund":
            claim_grant(uow, FixedClock(NOW + DAY), grant.id)


def _grants(uow: UnitOfWorkFactory) -> dict[str, Grant]:
    found: dict[str, Grant] = {}
    with uow() as u:
        for campaign_id, _, _ in CAMPAIGNS:
            after = None
            while page := u.grants.page(
                campaign_id=campaign_id, account_id=None, starting_after=after, limit=1000
            ):
                found.update((g.id, g) for g in page)
                after = page[-1].id
    return found


def _budgets(uow: UnitOfWorkFactory) -> dict[str, tuple[int, int]]:
    with uow() as u:
        budgets = {c: u.budgets.get(c) for c, _, _ in CAMPAIGNS}
    return {c: (b.funded_minor, b.remaining_minor) for c, b in budgets.items() if b is not None}


def _check_books(uow: UnitOfWorkFactory) -> None:
    """Each budget holds exactly what is not owed to an envelope still open or opened; the ledger agrees."""
    grants = _grants(uow)
    for campaign_id, (funded, remaining) in _budgets(uow).items():
        held = sum(
            g.amount_minor
            for g in grants.values()
            if g.campaign_id == campaign_id and g.state is not GrantState.EXPIRED
        )
        assert remaining == funded - held, campaign_id
    verified = verify_ledger(uow)
    assert verified.ok is True, verified.problems


@pytest.fixture
def app(db_url: str, files: tuple[Path, Path]) -> Any:
    app = App(db_url, NOW)
    upgrade(app.engine)
    _load(app.uow, files)
    _issue_all(app.uow, app)
    yield app
    app.close()


def test_batches_expire_exactly_the_due_grants_as_the_reference_does(
    app: App, files: tuple[Path, Path]
) -> None:
    store = WebhookStore(app.engine)
    store.create_endpoint("http://127.0.0.1:9/hook", ["grant.expired"], "ops", NOW)
    memory = memory_uow_factory(MemoryStore())
    _load(memory, files)
    _issue_all(memory, app)
    before = _grants(app.uow)
    assert before == _grants(memory)
    due = {g.id for g in before.values() if g.state is GrantState.ISSUED and g.expires_at_us <= LATER}
    assert len(due) > 20 * 97 and {before[i].campaign_id for i in due} == {"founders-refund", "early-refund"}

    result = expire_grants(app.uow, FixedClock(LATER))
    assert result == expire_grants(memory, FixedClock(LATER))
    assert result.expired == len(due) and result.batches == 2  # one transaction per campaign due
    after = _grants(app.uow)
    assert after == _grants(memory)
    assert {i for i, g in after.items() if g.state is GrantState.EXPIRED} == due
    assert all(after[i].closed_at_us == before[i].expires_at_us for i in due)  # closed with its window
    assert {i: g for i, g in after.items() if i not in due} == {
        i: g for i, g in before.items() if i not in due
    }
    _check_books(app.uow)
    _check_books(memory)
    with app.engine.connect() as conn:
        postings = conn.execute(
            text("SELECT COUNT(*), SUM(amount) FROM ledger_entries WHERE kind = 'expire'")
        ).one()
        events = conn.execute(
            text("SELECT payload FROM webhook_events WHERE type = 'grant.expired'")
        ).scalars()
        payloads = list(events)
    assert postings[0] == 2  # one posting per campaign due
    assert postings[1] == sum(before[i].amount_minor for i in due)
    # One event per grant, its object what the API shows for the grant, in canonical JSON.
    bodies = [json.loads(p) for p in payloads]
    assert sorted(b["data"]["object"]["id"] for b in bodies) == sorted(due)
    assert all(b["data"]["object"] == grant_json(after[b["data"]["object"]["id"]]) for b in bodies)
    assert [canonical_json(b) for b in bodies] == payloads
    assert all(
        b["type"] == "grant.expired" and b["created"] == NOW // 1_000_000 for b in bodies
    )  # the app clock
    assert len({b["id"] for b in bodies}) == len(bodies)
    with app.engine.connect() as conn:
        pending = conn.execute(text("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'"))
        assert pending.scalar_one() == len(due)
    assert expire_grants(app.uow, FixedClock(LATER)).expired == 0
    # A grant marked expired behind the ledger's back is reported as such.
    patient = next(g for g in after.values() if g.campaign_id == "patient-refund")
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE grants SET state = 'expired' WHERE grant_id = :id"), {"id": patient.id})
    problems = verify_ledger(app.uow).problems
    total = patient.amount_minor
    assert (
        f"campaign patient-refund: expired grants total {total} but the ledger returned 0 to the budget"
        in problems
    )


def _expire_process(db_url: str, cwd: Path) -> cli_forkserver.Process:
    env = {**os.environ, "PLEDGE_DATABASE_URL": db_url}
    return cli_forkserver.start(
        ["grants", "expire", "--now", format_instant(LATER), "--json"], cwd=cwd, env=env
    )


def _states(app: App) -> dict[GrantState, int]:
    counts: dict[GrantState, int] = {}
    for grant in _grants(app.uow).values():
        counts[grant.state] = counts.get(grant.state, 0) + 1
    return counts


def _due(app: App) -> int:
    return sum(
        1 for g in _grants(app.uow).values() if g.state is GrantState.ISSUED and g.expires_at_us <= LATER
    )


def test_a_killed_expiry_leaves_a_consistent_state_and_a_rerun_finishes(
    app: App, db_url: str, tmp_path: Path
) -> None:
    due = _due(app)
    process = _expire_process(db_url, tmp_path)
    time.sleep(0.05 + int.from_bytes(os.urandom(1)) / 1_000)  # somewhere in its start or its work
    process.send_signal(signal.SIGKILL)
    process.communicate()  # waits, and closes its pipes
    done = _states(app).get(GrantState.EXPIRED, 0)
    _check_books(app.uow)  # whatever campaign was in flight rolled back whole
    rerun = expire_grants(app.uow, FixedClock(LATER))
    assert rerun.expired == due - done
    assert _states(app)[GrantState.EXPIRED] == due
    _check_books(app.uow)


def test_two_expiries_at_once_expire_each_grant_once(app: App, db_url: str, tmp_path: Path) -> None:
    due = _due(app)
    processes = [_expire_process(db_url, tmp_path) for _ in range(2)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["expired"] for r in results) == due
    assert _states(app)[GrantState.EXPIRED] == due
    _check_books(app.uow)


def test_an_envelope_opened_while_expiry_runs_is_either_opened_or_expired_never_both(app: App) -> None:
    """A claim holds its grant and its campaign's mark; the expiry waits, then sums what committed."""
    due = _due(app)
    grant = next(
        g
        for g in _grants(app.uow).values()
        if g.campaign_id == "early-refund" and g.state is GrantState.ISSUED
    )
    # The customer opens it "just before" the window closes, in a transaction still open (the
    # grant's state only: this test is about the two transactions, not the claim's ledger posting).
    opening = app.uow()
    uow = opening.__enter__()
    found = uow.grants.get(grant.id, for_update=True)
    assert found is not None
    uow.grants.update(found.claim(grant.expires_at_us - 1))
    swept: list[Any] = []
    worker = threading.Thread(target=lambda: swept.append(expire_grants(app.uow, FixedClock(LATER))))
    worker.start()
    worker.join(timeout=1.0)
    if app.engine.dialect.name == "postgresql":
        assert worker.is_alive(), "the expiry must wait for the open claim"
    uow.commit()
    opening.__exit__(None, None, None)
    worker.join(timeout=60)
    assert not worker.is_alive() and swept
    with app.uow() as u:
        assert u.grants.get(grant.id) == found.claim(grant.expires_at_us - 1)
    assert swept[0].expired == due - 1  # all but the opened one
    funded, remaining = _budgets(app.uow)["early-refund"]
    expired = sum(
        g.amount_minor
        for g in _grants(app.uow).values()
        if g.campaign_id == "early-refund" and g.state is GrantState.EXPIRED
    )
    assert (
        remaining
        == funded
        - sum(g.amount_minor for g in _grants(app.uow).values() if g.campaign_id == "early-refund")
        + expired
    )
