"""Engines for the URLs users write, tuned per database.

``postgresql://`` is mapped to the psycopg 3 driver. SQLite runs in WAL mode
with foreign keys on, and every transaction starts with ``BEGIN IMMEDIATE`` so
two writers serialize at the start instead of failing on lock upgrade halfway
through (the read-then-write pattern of issuance needs that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from pledge.domain.errors import InputError

DEFAULT_SQLITE_FILE = "pledge.db"


def default_url() -> str:
    return os.environ.get("PLEDGE_DATABASE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def normalize_url(url: str) -> str:
    """Accept URLs as users write them and pick our drivers."""
    try:
        parsed = make_url(url)
    except Exception:
        raise InputError(
            f"--db: {url!r} is not a database URL like sqlite:///pledge.db",
            param="db",
            code="invalid_database_url",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise InputError(
            f"--db: {backend} is not supported (use sqlite:/// or postgresql://)",
            param="db",
            code="invalid_database_url",
        )
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(normalize_url(url), **kwargs)
    if is_sqlite(engine):
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling would emit BEGIN lazily (DEFERRED);
    # turn it off and emit BEGIN IMMEDIATE ourselves (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
