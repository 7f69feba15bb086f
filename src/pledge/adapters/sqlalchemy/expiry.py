"""Expiry in bounded batches: the database expires a batch and sums it per campaign (ADR 17).

Each batch moves at most ``limit`` due grants from ``issued`` to ``expired``, only those that still
are, and returns one row per campaign (count, amount, smallest and highest id), never a row per
grant.

- SQLite updates its indexes in place: an expired grant leaves the ``(state, expires_at_us)``
  index's ``issued`` range at once, so every batch takes the first ``limit`` due rowids from it
  (into a temporary table: summed, then updated; the writer holds the database meanwhile).
- PostgreSQL keeps the old index entries until a vacuum, so restarting from the start of the range
  would step over every grant expired so far, batch after batch. A batch continues instead from the
  previous one's highest grant id (``grant_id > after``, in id order: the order a run wrote them),
  and locks its rows with ``SKIP LOCKED``: a second expiry running at the same time takes other
  rows instead of waiting, and the locks are always taken in id order, so it never deadlocks. One
  statement: a data-modifying ``WITH`` whose ``UPDATE … RETURNING`` is summed by the outer query.

When a webhook endpoint listens for ``grant.expired``, the batch's ids are kept in a temporary table
(SQLite: the rowids it already has), so its events can be written by one ``INSERT … SELECT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from pledge.domain.grant import GrantState
from pledge.usecases.ports import CampaignExpiry, ExpiredBatch

# What a batch is summed into, per campaign and currency (the highest id: where the next starts).
_SUMS = "campaign_id, currency, COUNT(*), SUM(amount_minor), MIN(grant_id), MAX(grant_id)"
_BY = "GROUP BY campaign_id, currency ORDER BY campaign_id, currency"
_ISSUED, _EXPIRED = GrantState.ISSUED.value, GrantState.EXPIRED.value
# Literals rather than parameters, so the planner sees which part of the index is meant.
_DUE = f"state = '{_ISSUED}' AND expires_at_us <= :now"
_SET = f"SET state = '{_EXPIRED}', closed_at_us = :now"
_BATCH = "pledge_expiry_batch"  # SQLite: the rowids of the batch in hand (a temporary table)


def count_due(conn: Connection, now_us: int) -> int:
    return int(conn.execute(text(f"SELECT COUNT(*) FROM grants WHERE {_DUE}"), {"now": now_us}).scalar_one())


def expire_batch(conn: Connection, now_us: int, limit: int, after: str) -> ExpiredBatch:
    """Expire up to ``limit`` due grants, summed per campaign by the database (no row comes back)."""
    params = {"now": now_us, "limit": limit, "after": after}
    if conn.dialect.name == "postgresql":
        done = _pg_update("g.grant_id, g.campaign_id, g.currency, g.amount_minor")
        sql = f"WITH {_pg_due()}, done AS ({done}) SELECT {_SUMS} FROM done {_BY}"
        return _summed(conn.execute(text(sql), params).all(), after)
    _sqlite_take(conn, params)
    sums = conn.execute(
        text(f"SELECT {_SUMS} FROM grants WHERE rowid IN (SELECT r FROM temp.{_BATCH}) {_BY}")
    )
    batch = _summed(sums.all(), after)
    conn.execute(text(f"UPDATE grants {_SET} WHERE rowid IN (SELECT r FROM temp.{_BATCH})"), params)
    return batch


def expire_batch_staged(conn: Connection, now_us: int, limit: int, after: str) -> tuple[ExpiredBatch, str]:
    """``expire_batch``, also naming the batch's grants (as they now are) for set-based reads: the
    returned ``(SELECT … FROM grants …)`` is valid until the transaction ends."""
    params = {"now": now_us, "limit": limit, "after": after}
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS {_BATCH} (grant_id VARCHAR(40) COLLATE "C" PRIMARY KEY) '
            "ON COMMIT DELETE ROWS"
        )
        conn.exec_driver_sql(f"DELETE FROM {_BATCH}")
        done = _pg_update("g.grant_id")
        conn.execute(
            text(f"WITH {_pg_due()}, done AS ({done}) INSERT INTO {_BATCH} SELECT grant_id FROM done"), params
        )
        source = f"(SELECT * FROM grants WHERE grant_id IN (SELECT grant_id FROM {_BATCH}))"
        return _summed(conn.execute(text(f"SELECT {_SUMS} FROM {source} AS b {_BY}")).all(), after), source
    batch = expire_batch(conn, now_us, limit, after)
    return batch, f"(SELECT * FROM grants WHERE rowid IN (SELECT r FROM temp.{_BATCH}))"


def _pg_due() -> str:
    return (
        f"due AS (SELECT grant_id FROM grants WHERE {_DUE} AND grant_id > :after "
        "ORDER BY grant_id LIMIT :limit FOR UPDATE SKIP LOCKED)"
    )


def _pg_update(returning: str) -> str:
    return f"UPDATE grants AS g {_SET} FROM due WHERE g.grant_id = due.grant_id RETURNING {returning}"


def _sqlite_take(conn: Connection, params: dict[str, Any]) -> None:
    """The batch's rowids, the first due in the index (``after`` is not needed: see the module's
    docstring). The table is created in the transaction and goes with a rollback."""
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_BATCH} (r INTEGER PRIMARY KEY)")
    conn.exec_driver_sql(f"DELETE FROM temp.{_BATCH}")
    conn.execute(
        text(f"INSERT INTO temp.{_BATCH} SELECT rowid FROM grants WHERE {_DUE} LIMIT :limit"), params
    )


def _summed(rows: Sequence[Any], after: str) -> ExpiredBatch:
    campaigns = [CampaignExpiry(c, cur, int(n), int(total), first) for c, cur, n, total, first, _ in rows]
    return ExpiredBatch(campaigns, max((r[5] for r in rows), default=after))
