"""Reads never queue behind a writer (SQLite): a unit of work made with ``read_only=True`` begins
deferred and reads its WAL snapshot while another transaction holds the write lock, as a long
``campaign run`` does for minutes; and it cannot write. On PostgreSQL every transaction reads
without waiting anyway; the same calls are checked there too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import grants_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.report import campaign_report
from tests.support.data import campaign, write_files

NOW = parse_instant("2021-08-10T12:00:00+08:00")
CID = "founders-refund"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    # A short busy timeout: a read that queued behind the writer fails in 2 s instead of 30.
    url = f"{db_url}?timeout=2" if db_url.startswith("sqlite") else db_url
    app = App(url, NOW)
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    apply_campaign(app.uow, app.rules, app.clock, campaign(), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    yield app
    app.close()


def test_reads_answer_while_a_writer_holds_the_database(app: App) -> None:
    with app.uow() as writer:  # BEGIN IMMEDIATE on SQLite: the write lock, held until the block ends
        writer.budgets.adjust(CID, -1)
        started = time.monotonic()
        explained = explanation_json(explain_account(app.uow, app.rules, "A-cn-1", CID))
        listed = grants_json(list_grants(app.uow, campaign_id=CID))["data"]
        report = report_json(campaign_report(app.uow, CID))
        waited_s = time.monotonic() - started
    assert explained["qualifies"] and len(listed) == 3
    assert report["budget_remaining"] == "49994703.00", "the snapshot before the writer's change"
    assert waited_s < 1.5, f"the reads waited {waited_s:.1f} s for the writer"


def test_a_read_only_unit_cannot_write(app: App) -> None:
    if not app.url.startswith("sqlite"):
        pytest.skip("SQLite's query_only; PostgreSQL transactions are not marked read-only")
    with pytest.raises(OperationalError, match="readonly"), app.uow(read_only=True) as uow:
        uow.budgets.adjust(CID, -1)
    with app.uow() as uow:  # the pooled connection writes again in an ordinary unit
        assert uow.budgets.adjust(CID, -1)
        uow.commit()
    with app.engine.connect() as conn:
        assert conn.execute(text("PRAGMA query_only")).scalar_one() == 0
