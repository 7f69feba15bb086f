"""`pledge init` creates or upgrades the schema, and the migrations match the tables exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import pledge.adapters.sqlalchemy.api_tables  # noqa: F401 - the API tables are part of the metadata
from pledge.adapters.sqlalchemy.database import make_engine
from pledge.adapters.sqlalchemy.schema import SCHEMA_HEAD, current_revision, head_revision, upgrade
from pledge.adapters.sqlalchemy.tables import metadata


def test_upgrade_is_idempotent_and_matches_the_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert upgrade(engine) == (None, head_revision())
        assert upgrade(engine) == (head_revision(), head_revision())
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_the_declared_head_is_the_newest_migration() -> None:
    # Commands check SCHEMA_HEAD without loading Alembic; it must follow every new migration.
    assert head_revision() == SCHEMA_HEAD
