"""Expiry in bounded batches: one statement expires a batch and returns it (ADR 17).

Each batch is an ``UPDATE … RETURNING`` over at most ``limit`` due grants, found through the
``(state, expires_at_us)`` index, that moves them from ``issued`` to ``expired`` only if they
still are: a grant is never expired twice, whoever else is expiring at the same time.

- SQLite updates its indexes in place: an expired grant leaves the index's ``issued`` range at
  once, so every batch simply takes the first ``limit`` due rows (no position to keep).
- PostgreSQL keeps the old index entries until a vacuum, so restarting from the start of the range
  would step over every grant expired so far, batch after batch. A batch continues instead from the
  previous one's highest grant id (``grant_id > after``, in id order: the order a run wrote them),
  and locks its rows with ``SKIP LOCKED``: a second expiry running at the same time takes other
  rows instead of waiting, and the locks are always taken in id order, so it never deadlocks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from pledge.domain.grant import GrantState
from pledge.usecases.ports import CampaignExpiry, ExpiredBatch

# The first four columns aggregate the batch; the rest describe each grant (for its event).
BATCH_COLUMNS = ("grant_id", "campaign_id", "currency", "amount_minor")
GRANT_COLUMNS = (
    *BATCH_COLUMNS,
    "terms_version",
    "account_id",
    "purchase_id",
    "state",
    "issued_at_us",
    "expires_at_us",
    "claimed_at_us",
    "closed_at_us",
)
_ISSUED, _EXPIRED = GrantState.ISSUED.value, GrantState.EXPIRED.value
# Literals rather than parameters, so the planner sees which part of the index is meant.
_DUE = f"state = '{_ISSUED}' AND expires_at_us <= :now"


def count_due(conn: Connection, now_us: int) -> int:
    return int(conn.execute(text(f"SELECT COUNT(*) FROM grants WHERE {_DUE}"), {"now": now_us}).scalar_one())


def expire_rows(conn: Connection, now_us: int, limit: int, after: str, columns: tuple[str, ...]) -> list[Any]:
    """Expire up to ``limit`` due grants; returns ``columns`` of each one expired."""
    params = {"now": now_us, "limit": limit, "after": after}
    if conn.dialect.name == "postgresql":
        returning = ", ".join(f"g.{c}" for c in columns)
        sql = (
            f"WITH due AS (SELECT grant_id FROM grants WHERE {_DUE} AND grant_id > :after "
            "ORDER BY grant_id LIMIT :limit FOR UPDATE SKIP LOCKED) "
            f"UPDATE grants AS g SET state = '{_EXPIRED}', closed_at_us = :now "
            f"FROM due WHERE g.grant_id = due.grant_id RETURNING {returning}"
        )
    else:
        sql = (
            f"UPDATE grants SET state = '{_EXPIRED}', closed_at_us = :now "
            f"WHERE rowid IN (SELECT rowid FROM grants WHERE {_DUE} LIMIT :limit) "
            f"RETURNING {', '.join(columns)}"
        )
    return list(conn.execute(text(sql), params))


def batch_of(conn: Connection, rows: list[Any]) -> ExpiredBatch:
    """Per campaign: how many, how much, the smallest id (rows start with ``BATCH_COLUMNS``)."""
    found: dict[tuple[str, str], list[Any]] = {}
    last = ""
    for grant_id, campaign_id, currency, amount in (tuple(r[:4]) for r in rows):
        entry = found.get((campaign_id, currency))
        if entry is None:
            found[(campaign_id, currency)] = [1, int(amount), grant_id]
        else:
            entry[0] += 1
            entry[1] += int(amount)
            entry[2] = min(entry[2], grant_id)
        last = max(last, grant_id)
    campaigns = [
        CampaignExpiry(c, cur, n, total, first) for (c, cur), (n, total, first) in sorted(found.items())
    ]
    # SQLite starts each batch from the index's start again (see the module's docstring).
    return ExpiredBatch(campaigns, last if conn.dialect.name == "postgresql" else "")
