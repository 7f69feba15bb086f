"""The notification tables' rows: read into the port's records, and written many in one statement."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Integer, Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pledge.domain.distributions import DistributionState, MessageState
from pledge.domain.notifications import Channel, Purpose
from pledge.usecases.notification_ports import DistributionRecord, MessageRecord


def distribution_record(row: Any) -> DistributionRecord:
    return DistributionRecord(
        row.distribution_id,
        row.kind,
        row.campaign_id,
        row.template,
        tuple(Channel(c) for c in row.channels.split(",") if c),
        DistributionState(row.state),
        int(row.hold_until_us),
        row.created_by,
        int(row.created_at_us),
        int(row.recipients),
    )


def message_record(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.message_id,
        distribution_id=row.distribution_id,
        account_id=row.account_id,
        channel=Channel(row.channel),
        template=row.template,
        purpose=Purpose(row.purpose),
        topic=row.topic,
        locale=row.locale,
        address=row.address,
        params=json.loads(row.params),
        state=MessageState(row.state),
        next_attempt_us=int(row.next_attempt_us),
        created_at_us=int(row.created_at_us),
        reason=row.reason,
        attempts=int(row.attempts),
        claim_token=row.claim_token,
        sent_at_us=None if row.sent_at_us is None else int(row.sent_at_us),
        provider_ref=row.provider_ref,
    )


def message_values(r: MessageRecord) -> dict[str, Any]:
    return {
        "message_id": r.id,
        "distribution_id": r.distribution_id,
        "account_id": r.account_id,
        "channel": r.channel.value,
        "template": r.template,
        "purpose": r.purpose.value,
        "topic": r.topic,
        "locale": r.locale,
        "address": r.address,
        "params": json.dumps(r.params, sort_keys=True, ensure_ascii=False),
        "state": r.state.value,
        "reason": r.reason,
        "attempts": r.attempts,
        "next_attempt_us": r.next_attempt_us,
        "created_at_us": r.created_at_us,
        "updated_at_us": r.created_at_us,
    }


def distribution_values(r: DistributionRecord) -> dict[str, Any]:
    return {
        "distribution_id": r.id,
        "kind": r.kind,
        "campaign_id": r.campaign_id,
        "template": r.template,
        "channels": ",".join(c.value for c in r.channels),
        "state": r.state.value,
        "hold_until_us": r.hold_until_us,
        "recipients": r.recipients,
        "created_by": r.created_by,
        "created_at_us": r.created_at_us,
        "updated_at_us": r.created_at_us,
    }


def _pg_array(column: Any) -> str:
    """The PostgreSQL array type a column's values travel in (cast to the column on insert)."""
    return "BIGINT[]" if isinstance(column.type, Integer) else "TEXT[]"


def insert_new(
    conn: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], returning: str
) -> list[str]:
    """Insert ``rows`` in one statement, skipping those whose ``key`` is taken (by an earlier row
    or one earlier in ``rows``); the ``returning`` column of the rows written.

    PostgreSQL gets one array per column and ``INSERT … SELECT FROM unnest(…)``: one statement
    with as many parameters as columns, however many rows (a multi-row ``VALUES`` of 1,500
    messages has 24,000 placeholders, and the driver parses each: eight times slower). SQLite
    takes SQLAlchemy's multi-row ``INSERT … VALUES`` (its "insertmanyvalues" pages).
    RETURNING names the rows written: ``rowcount`` is not reliable for ON CONFLICT everywhere.
    """
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(key))
        return list(conn.scalars(stmt.returning(table.c[returning]), rows))
    columns = list(rows[0])
    arrays = ", ".join(f"CAST(:{c} AS {_pg_array(table.c[c])})" for c in columns)
    sql = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING {returning}"
    )
    return list(conn.scalars(sql, {c: [row[c] for row in rows] for c in columns}))
