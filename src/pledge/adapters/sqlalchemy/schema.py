"""Create or upgrade the schema with Alembic (``pledge init``).

Alembic is imported only by ``pledge init``: every other command just checks
the stored revision against :data:`SCHEMA_HEAD` with one query, which keeps a
command's start-up about a third of a second faster. A test keeps
``SCHEMA_HEAD`` equal to the newest migration.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

# The metadata is complete wherever the schema is: every module that defines tables is loaded here.
# API (ADR 6), claims and the serial register (ADR 28), distributions (ADR 26):
from pledge.adapters.sqlalchemy import api_tables, claim_tables, notification_tables  # noqa: F401 - loaded for their tables

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "0019"  # the newest revision in migrations/versions


def alembic_config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 - see the module docstring

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to the newest revision; returns (from, to)."""
    from alembic import command  # noqa: PLC0415 - see the module docstring

    config = alembic_config()
    with engine.begin() as conn:
        before = _revision(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        after = _revision(conn)
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
    """The newest migration, as Alembic sees it (tests compare it with ``SCHEMA_HEAD``)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see the module docstring

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)
