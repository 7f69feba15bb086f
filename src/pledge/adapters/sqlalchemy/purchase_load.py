"""A fresh batch of purchases into SQL with its account fields, joined in the database (ADR 12, 37).

Each batch goes into a temporary table with no key (the cheapest insert either engine has: an
``executemany`` on SQLite, a binary ``COPY`` on PostgreSQL), then into ``purchases`` by one
``INSERT … SELECT`` joined to ``accounts``: the account's region and registration are written with
the row, never by a second pass over the table (SQLite's ``UPDATE … FROM accounts`` rewrote every
row, a third of a large import), and PostgreSQL no longer looks accounts up from Python. A purchase
whose account is not imported is left out by the join, so the count of rows written tells whether
the batch is whole; the caller names the missing account.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from pledge.adapters.sqlalchemy.database import bulk_insert

STAGE = "pledge_purchase_stage"  # a temporary table: this connection's, gone with it
_BIGINT = frozenset({"purchased_at_us", "price_minor"})


def insert_with_accounts(conn: Connection, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Insert the purchases whose account exists, with its fields; returns how many went in.

    A purchase id already stored (or repeated in the batch) raises SQLAlchemy's ``IntegrityError``
    on both engines. Column names come from our own schema, never from input.
    """
    names = ", ".join(columns)
    postgres = conn.dialect.name == "postgresql"
    # The table's own types and collations: the join compares account ids as the key does ("C").
    # Created at the first batch (a rolled-back savepoint may have taken it away since).
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} ON COMMIT DROP AS "
        f"SELECT {names} FROM purchases WITH NO DATA"
        if postgres
        else f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} AS SELECT {names} FROM purchases WHERE 0"
    )
    types = [("int8" if name in _BIGINT else "text") for name in columns] if postgres else None
    bulk_insert(conn, STAGE, columns, rows, types)
    inserted = conn.exec_driver_sql(
        f"INSERT INTO purchases ({names}, account_region, account_registered_at_us) "
        f"SELECT {', '.join(f's.{name}' for name in columns)}, a.region, a.registered_at_us "
        f"FROM {STAGE} s JOIN accounts a ON a.account_id = s.account_id"
    ).rowcount
    conn.exec_driver_sql(f"TRUNCATE {STAGE}" if postgres else f"DELETE FROM {STAGE}")
    return int(inserted)


def drop_stage(conn: Connection) -> None:
    """SQLite keeps a temporary table until the connection closes (a pooled one, for long)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
