"""Create or upgrade the schema with Alembic (``pledge init``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

import pledge.adapters.sqlalchemy.api_tables  # noqa: F401 - the metadata is complete wherever the schema is

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to the newest revision; returns (from, to)."""
    config = alembic_config()
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        after = MigrationContext.configure(conn).get_current_revision()
        # The ledger head row exists from the start so appends can always lock it.
        conn.execute(
            text(
                "INSERT INTO ledger_head (id, seq, hash) SELECT 1, 0, :h WHERE NOT EXISTS "
                "(SELECT 1 FROM ledger_head WHERE id = 1)"
            ),
            {"h": "0" * 64},
        )
    return before, after or ""


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
