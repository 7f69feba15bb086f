"""A run of many chunks stages its grants and writes them in key order, on SQLite and PostgreSQL.

Small chunks and a low bulk-write threshold make a few thousand generated purchases take the paths
that millions take: conflicting candidates' grants staged, free ones written by one statement, the
grants' indexes dropped and rebuilt (ADR 11). The grants, the ledger postings and the budget must
be exactly what the in-memory reference issues, a duplicate key in a staged chunk must fail the
whole run, and nothing may be left staged or unindexed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import IntegrityError

from pledge.adapters.files.generate import generate
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.sqlalchemy import repositories as sql_repositories
from pledge.adapters.sqlalchemy.repositories import SqlGrants
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.adapters.sqlalchemy.tables import grants
from pledge.bootstrap import App
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.timeutil import parse_instant
from pledge.usecases import issue
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.ports import UnitOfWorkFactory
from tests.integration.test_scan_agreement import _load
from tests.support.data import campaign

NOW = parse_instant("2012-06-01T12:00:00+08:00")
CID = "founders-refund"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    result = generate(tmp_path_factory.mktemp("crowd"), purchases=3_000, seed=11)
    return result.accounts_path, result.purchases_path


def _issue(uow: UnitOfWorkFactory, app: App) -> issue.RunOutcome:
    apply_campaign(uow, app.rules, app.clock, campaign(budget="90000000.00"), "ops")
    approve_campaign(uow, app.rules, app.clock, CID, "finance")
    launch_campaign(uow, app.rules, app.clock, CID, "finance")
    return issue.run_campaign(uow, app.rules, app.clock, CID, "ops")


def _grants(uow: UnitOfWorkFactory, purchase_ids: list[str]) -> list[tuple[str, str, str, int]]:
    with uow() as u:
        issued = u.grants.for_purchases(CID, purchase_ids).values()
        return sorted((g.id, g.purchase_id, g.account_id, g.amount_minor) for g in issued)


def test_a_staged_run_issues_what_the_reference_issues(
    db_url: str, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issue, "CHUNK", 97)  # dozens of chunks: all but the first are staged
    monkeypatch.setattr(sql_repositories, "BULK_WRITE_ROWS", 1)  # and the indexes rebuilt after
    app = App(db_url, NOW)
    upgrade(app.engine)
    _load(app.uow, files)
    store = MemoryStore()
    memory = memory_uow_factory(store)
    _load(memory, files)
    statements: list[str] = []
    event.listen(app.engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))

    result = _issue(app.uow, app)
    dropped = [s for s in statements if "DROP INDEX" in s and "ix_grants" in s]
    assert len(dropped) == len(grants.indexes), "the run dropped the grants' indexes, to rebuild them"
    indexes = {str(index["name"]) for index in inspect(app.engine).get_indexes("grants")}
    assert indexes == {str(index.name) for index in grants.indexes}
    assert result == _issue(memory, app)
    assert result.issued > 10 * 97
    purchase_ids = sorted(store.purchases)
    assert _grants(app.uow, purchase_ids) == _grants(memory, purchase_ids)
    verified = verify_ledger(app.uow)
    assert verified.ok is True, verified
    with app.engine.connect() as conn:  # the stage went with the run's transaction
        sqlite = "sqlite" in db_url
        names = "SELECT name FROM sqlite_temp_master" if sqlite else "SELECT relname FROM pg_class"
        assert "pledge_grants_stage" not in set(conn.execute(text(names)).scalars())
    # A second run issues nothing more.
    assert issue.run_campaign(app.uow, app.rules, app.clock, CID, "ops").issued == 0
    app.close()


def _grant(purchase: str) -> Grant:
    return Grant(grant_id(CID, purchase), CID, 1, "A1", purchase, 100, "CNY", GrantState.ISSUED, 1, 2)


def test_a_duplicate_key_in_a_staged_chunk_fails_the_whole_transaction(db_url: str) -> None:
    app = App(db_url, NOW)
    upgrade(app.engine)
    with app.engine.connect() as conn:
        conn.begin()
        repo = SqlGrants(conn)
        repo.add_many([_grant("P1"), _grant("P2")], ["s1", "s2"], posting_id="issue:a")  # written at once
        repo.add_many([_grant("P3"), _grant("P1")], ["s3", "s1"], posting_id="issue:b")  # staged
        with pytest.raises(IntegrityError):
            repo.flush_added()
        conn.rollback()
        assert conn.execute(text("SELECT COUNT(*) FROM grants")).scalar_one() == 0
    app.close()


def test_flushing_writes_the_staged_grants_and_drops_the_stage(db_url: str) -> None:
    app = App(db_url, NOW)
    upgrade(app.engine)
    sqlite = "sqlite" in db_url
    stage = (
        "SELECT COUNT(*) FROM sqlite_temp_master WHERE name = 'pledge_grants_stage'"
        if sqlite
        else "SELECT COUNT(*) FROM pg_class WHERE relname = 'pledge_grants_stage' "
        "AND pg_table_is_visible(oid)"
    )
    with app.engine.connect() as conn:
        conn.begin()
        repo = SqlGrants(conn)
        repo.add_many([_grant("P1")], ["s1"], posting_id="issue:a")
        repo.add_many([_grant("P3"), _grant("P2")], ["s3", "s2"], posting_id="issue:b")
        assert conn.execute(text(stage)).scalar_one() == 1
        assert conn.execute(text("SELECT COUNT(*) FROM grants")).scalar_one() == 1  # staged: not yet
        repo.flush_added()
        assert conn.execute(text(stage)).scalar_one() == 0
        stored = conn.execute(text("SELECT purchase_id, posting_id FROM grants ORDER BY purchase_id")).all()
        assert [tuple(row) for row in stored] == [("P1", "issue:a"), ("P2", "issue:b"), ("P3", "issue:b")]
        conn.commit()
    app.close()
