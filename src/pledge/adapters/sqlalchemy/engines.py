"""Reaching the database besides a unit of work: reads that never wait, writes that wait their turn."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from pledge.adapters.sqlalchemy.database import busy_timeout_ms, is_busy

T = TypeVar("T")


def reader_engine(engine: Engine) -> Engine:
    """An engine for plain reads that never waits for a writer.

    Pledge's SQLite engine begins every transaction with BEGIN IMMEDIATE (see
    database.py), reads included, so while a long import or run holds the
    write lock every read would wait. Authenticating a key or polling a job
    must not: on SQLite this second engine uses deferred transactions, which in
    WAL mode read a consistent snapshot without taking the lock.
    """
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_engine(engine.url)
    busy_ms = busy_timeout_ms(engine)

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return reader


def write_when_free(engine: Engine, write: Callable[[Connection], T], wait_s: float) -> T:
    """Run ``write`` in a transaction, retried while SQLite is busy, for at most ``wait_s``.

    SQLite has one writer: a status or audit row written while an import holds the lock
    waits for it (each attempt up to the connection's busy timeout) instead of failing.
    """
    deadline = time.monotonic() + wait_s
    pause = 0.05
    while True:
        try:
            with engine.begin() as conn:
                return write(conn)
        except OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 1.0)
