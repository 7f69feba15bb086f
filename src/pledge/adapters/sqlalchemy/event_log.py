"""The domain event log on SQL: appended by the unit of work at commit (ADR 20)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from pledge.adapters.sqlalchemy.tables import domain_events
from pledge.domain.audit import canonical_json
from pledge.domain.events import DomainEvent, event_data, event_type


def append_events(conn: Connection, events: Sequence[DomainEvent], recorded_at_us: int) -> None:
    """Write ``events`` in the order recorded, on the caller's transaction."""
    if events:
        conn.execute(
            domain_events.insert(),
            [
                {
                    "type": event_type(e),
                    "recorded_at_us": recorded_at_us,
                    "data": canonical_json(event_data(e)),
                }
                for e in events
            ],
        )


def read_events(conn: Connection, after_seq: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Log entries after ``after_seq``, oldest first: ``seq``, ``type``, ``recorded_at_us``, ``data``."""
    c = domain_events.c
    rows = conn.execute(select(domain_events).where(c.seq > after_seq).order_by(c.seq).limit(limit))
    return [
        {"seq": r.seq, "type": r.type, "recorded_at_us": r.recorded_at_us, "data": json.loads(r.data)}
        for r in rows
    ]
