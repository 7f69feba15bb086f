"""Migration 0008: idempotency keys scoped to the API key, stored rows kept, and back again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from pledge.adapters.sqlalchemy.database import make_engine
from pledge.adapters.sqlalchemy.schema import alembic_config

ROW = (
    "INSERT INTO idempotency_keys (idem_key, fingerprint, api_key_id, status, created_at_us, "
    "locked_until_us) VALUES (:k, 'f', :a, 'done', :at, 0)"
)


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT api_key_id, idem_key FROM idempotency_keys ORDER BY api_key_id"))
        return [(r[0], r[1]) for r in found]


def test_keys_are_kept_scoped_and_narrowed_back(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, "0005")
        with engine.begin() as conn:
            conn.execute(text(ROW), {"k": "open-1", "a": "key_a", "at": 1})
        migrate(engine, "0008")
        with engine.begin() as conn:  # another API key may now hold the same string
            conn.execute(text(ROW), {"k": "open-1", "a": "key_b", "at": 2})
        assert rows(engine) == [("key_a", "open-1"), ("key_b", "open-1")]
        migrate(engine, "0005", down=True)
        assert rows(engine) == [("key_b", "open-1")]  # the newest of each string survives
        migrate(engine, "0008")
        assert rows(engine) == [("key_b", "open-1")]
    finally:
        engine.dispose()
