"""Engines for the URLs users write, tuned per database.

``postgresql://`` is mapped to the psycopg 3 driver. SQLite runs in WAL mode
with foreign keys on, and every transaction starts with ``BEGIN IMMEDIATE`` so
two writers serialize at the start instead of failing on lock upgrade halfway
through (the read-then-write pattern of issuance needs that).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from pledge.domain.errors import InputError
from pledge.domain.grant import grant_id

DEFAULT_SQLITE_FILE = "pledge.db"
READ_ONLY = "pledge_read_only"  # a connection's execution option: its transaction only reads


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


def is_busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (another writer held the lock past the busy timeout)."""
    text_ = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in text_ or "busy" in text_


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(normalize_url(url), **kwargs)
    if is_sqlite(engine):
        _tune_sqlite(engine)
    return engine


def busy_timeout_ms(engine: Engine) -> int:
    """How long a SQLite connection waits for another writer: 30 s, or the URL's ``?timeout=`` seconds."""
    given = engine.url.query.get("timeout")
    return int(float(given) * 1000) if isinstance(given, str) else 30_000


def _tune_sqlite(engine: Engine) -> None:
    busy_ms = busy_timeout_ms(engine)

    # pysqlite's own transaction handling would emit BEGIN lazily (DEFERRED);
    # turn it off and emit BEGIN IMMEDIATE ourselves (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        # 256 MiB of page cache: index maintenance on bulk inserts is cache-bound (2 MiB by default).
        cursor.execute("PRAGMA cache_size=-262144")
        cursor.close()
        # The free candidates' grants are written by one INSERT … SELECT (ADR 11): their ids, too.
        dbapi_connection.create_function("pledge_grant_id", 2, grant_id, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A unit of work that only reads (``read_only``) begins deferred: in WAL mode it reads a
        # snapshot and never waits for the writer; every other one takes the write lock at once.
        # ``query_only`` holds it to that: a write in it fails at once ("attempt to write a readonly
        # database"), rather than upgrading a snapshot that a writer may have made stale.
        read_only = bool(conn.get_execution_options().get(READ_ONLY, False))
        info = conn.connection.info
        if info.get(READ_ONLY, False) != read_only:  # the pooled connection keeps the last setting
            conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
            info[READ_ONLY] = read_only
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def bulk_insert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    pg_types: Sequence[str] | None = None,
) -> None:
    """Insert many rows of plain tuples: ``COPY`` on PostgreSQL, one ``executemany`` on SQLite.

    The ORM-free, dict-free path: at millions of rows, building parameter
    dictionaries and processing them through SQLAlchemy costs more than the
    database's own work. Table and column names come from our own schema,
    never from input. A constraint violation raises SQLAlchemy's
    ``IntegrityError`` on both engines, so callers handle one exception type.
    ``pg_types`` (each column's PostgreSQL type) makes the ``COPY`` binary: no
    numbers written out as text and parsed back by the server.
    """
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None, "an open connection has a driver connection"
        binary = " (FORMAT BINARY)" if pg_types else ""
        try:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN{binary}") as copy:
                if pg_types:
                    copy.set_types(list(pg_types))
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(f"COPY {table}", None, exc) from exc
        return
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))


def stream_rows(conn: Connection, sql: str, batch_rows: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """Rows of one read-only statement (no parameters) as plain tuples, a batch at a time.

    The driver's own cursor, not SQLAlchemy's result: at millions of rows the
    per-row processing of a ``Result`` costs more than the database's work.
    PostgreSQL streams through a server-side cursor, planned for reading every
    row (``cursor_tuple_fraction = 1``) rather than for a fast first row.
    """
    raw = conn.connection.driver_connection
    assert raw is not None, "an open connection has a driver connection"
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
        with raw.cursor(name=f"pledge_stream_{secrets.token_hex(6)}") as server_cursor:
            server_cursor.itersize = batch_rows
            server_cursor.execute(sql)
            yield from server_cursor
        return
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_rows):
            yield from rows
    finally:
        cursor.close()


def lock_if_empty(conn: Connection, table: str) -> bool:
    """True if ``table`` (one of ours) is empty, then locked for a bulk write until commit.

    PostgreSQL: exclusively, taken before looking (looking first and then locking would upgrade a
    shared lock, which deadlocks two concurrent writers), and within a savepoint, so that a table
    found busy or not empty is not left locked. The catalogue's estimate, read without any lock,
    spares an analyzed table with rows even that. SQLite: ``BEGIN IMMEDIATE`` already made this
    connection the only writer.
    """
    if conn.dialect.name != "postgresql":
        return conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is None
    estimate = conn.exec_driver_sql(
        f"SELECT reltuples FROM pg_class WHERE oid = to_regclass('{table}')"
    ).scalar()
    if estimate is not None and estimate > 0:
        return False
    # Busy (or a concurrent writer waiting for the same upgrade): give up within 2 s, and leave the
    # session's own lock_timeout as it was.
    before = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one()
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        empty = conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is None
    except OperationalError:  # busy: no bulk write
        savepoint.rollback()
        return False
    finally:
        conn.execute(text("SELECT set_config('lock_timeout', :before, true)"), {"before": before})
    if empty:
        savepoint.commit()  # releasing the savepoint keeps its lock
    else:
        savepoint.rollback()  # and rolling it back releases it
    return empty
