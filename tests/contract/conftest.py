"""Every contract test runs on each store: the memory fake, SQLite and PostgreSQL.

A test takes ``store`` (a factory of units of work, and the exception its constraints raise)
or ``uow`` (one unit of work of that store, open for the test). PostgreSQL comes from the
``postgres_url`` fixture of tests/conftest.py: it skips with a message when the server is
unreachable, and fails instead under ``PLEDGE_REQUIRE_POSTGRES=1`` (as CI runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy.exc

from pledge.adapters.memory import IntegrityError, MemoryStore, memory_uow_factory
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.campaign import CampaignState
from pledge.domain.records import AccountRecord
from pledge.usecases.ports import CampaignRecord, UnitOfWork, UnitOfWorkFactory

STORES = ["memory", "sqlite", "postgresql"]


@dataclass(frozen=True)
class Store:
    name: str
    uow: UnitOfWorkFactory
    # What a key, foreign key or CHECK constraint raises on this store.
    refused: tuple[type[Exception], ...]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield Store("memory", memory_uow_factory(MemoryStore()), (IntegrityError,))
        return
    url = (
        f"sqlite:///{tmp_path / 'pledge.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    app = App(str(url))
    upgrade(app.engine)
    try:
        yield Store(request.param, app.uow, (sqlalchemy.exc.IntegrityError,))
    finally:
        app.close()


@pytest.fixture
def uow(store: Store) -> Iterator[UnitOfWork]:
    """One unit of work of the store, open for the whole test (nothing committed unless it commits)."""
    with store.uow() as u:
        yield u


def campaign(campaign_id: str = "c1", *, currency: str = "CNY", group: str = "default") -> CampaignRecord:
    return CampaignRecord(campaign_id, "cashback", CampaignState.DRAFT, currency, 1_000, 0, group)


def account(account_id: str = "A1", **contacts: str) -> AccountRecord:
    return AccountRecord(account_id, "CN", 1_000, **contacts)
