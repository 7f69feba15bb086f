"""Webhook endpoints, the event outbox and delivery bookkeeping, on SQLAlchemy Core."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update

from pledge.adapters.clock import SystemClock
from pledge.adapters.sqlalchemy.api_store import CallAudit, append_audit, reader_engine, snapshot
from pledge.adapters.sqlalchemy.api_tables import webhook_deliveries, webhook_endpoints, webhook_events
from pledge.domain.audit import canonical_json
from pledge.usecases.ports import Clock

# Event types a webhook endpoint can subscribe to; "*" means all of them.
EVENT_TYPES = (
    "grant.issued",
    "grant.claimed",
    "grant.expired",
    "grant.revoked",
    "campaign.updated",
    # scenario B (written by the API unit of work's subscriptions repository):
    "compensation.applied",
    "subscription.renewed",
    "subscription.lapsed",
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: str
    url: str
    events: list[str]
    secret: str
    description: str
    enabled: bool
    created_at_us: int


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    endpoint_id: str
    url: str
    secret: str
    payload: str
    attempts: int
    next_attempt_at_us: int


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        row.endpoint_id,
        row.url,
        json.loads(row.events),
        row.secret,
        row.description,
        bool(row.enabled),
        int(row.created_at_us),
    )


def _audit_before(conn: Connection, audit: CallAudit | None, subject: str) -> None:
    """The endpoint as the change finds it, read in the change's transaction."""
    if audit is not None:
        audit.before = snapshot(conn, subject)


def _audit_in(conn: Connection, audit: CallAudit | None, subject: str, wall_clock: Clock) -> None:
    """The audit entry, in the same transaction as the endpoint change."""
    if audit is not None:
        audit.subject = subject
        append_audit(conn, audit.record(wall_clock.now_us(), snapshot(conn, subject)))
        audit.written = True


class Outbox:
    """Writes events (and their deliveries) on the caller's connection: same transaction as the change.

    ``created_at_us`` is the business time the events carry (``--now`` moves it); ``wall_clock``
    schedules the first delivery attempt and orders the event ids.
    """

    def __init__(self, conn: Connection, created_at_us: int, wall_clock: Clock) -> None:
        self._conn = conn
        self._created_s = created_at_us // 1_000_000
        self._wall_clock = wall_clock
        self._wall_us = wall_clock.now_us()
        self._last_ns = 0
        self._subscribers: list[tuple[str, frozenset[str]]] | None = None

    def _id_prefix(self) -> str:
        """``evt_`` and 16 hex digits of nanoseconds, increasing with every call (ids sort oldest
        first: the /v1/events cursor), though the clock ticks in microseconds."""
        self._last_ns = max(self._last_ns + 1, self._wall_clock.now_us() * 1_000)
        return f"evt_{self._last_ns:016x}"

    def _endpoints_for(self, event_type: str) -> list[str]:
        if self._subscribers is None:
            rows = self._conn.execute(
                select(webhook_endpoints.c.endpoint_id, webhook_endpoints.c.events).where(
                    webhook_endpoints.c.enabled.is_(True)
                )
            )
            self._subscribers = [(r.endpoint_id, frozenset(json.loads(r.events))) for r in rows]
        return [e for e, types in self._subscribers if event_type in types or "*" in types]

    def listens(self, event_type: str) -> bool:
        """Whether some enabled endpoint would receive ``event_type`` (before building its objects)."""
        return bool(self._endpoints_for(event_type))

    def emit(self, event_type: str, objects: Iterable[Mapping[str, Any]]) -> int:
        """Record one event per object, only if some enabled endpoint listens for its type.

        Nobody listening means nothing is written: a run issuing millions of
        grants costs nothing extra unless someone subscribed to grant.issued.
        """
        endpoints = self._endpoints_for(event_type)
        if not endpoints:
            return 0
        events: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for obj in objects:
            # Time first, so ids sort oldest first (the /v1/events cursor); random after, to be unique.
            event_id = f"{self._id_prefix()}{secrets.token_hex(6)}"
            body = {
                "id": event_id,
                "object": "event",
                "type": event_type,
                "created": self._created_s,
                "data": {"object": obj},
            }
            events.append(
                {
                    "event_id": event_id,
                    "type": event_type,
                    "created_at_us": self._created_s * 1_000_000,
                    "payload": canonical_json(body),
                }
            )
            deliveries.extend(
                {
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at_us": self._wall_us,
                }
                for endpoint_id in endpoints
            )
        if events:
            self._conn.execute(webhook_events.insert(), events)
            self._conn.execute(webhook_deliveries.insert(), deliveries)
        return len(events)

    def emit_select(self, event_type: str, source: str, object_json: str, order_by: str) -> int:
        """Record one event per row of ``source`` in one ``INSERT … SELECT``, ``object_json`` (SQL
        building the object's canonical JSON) as its ``data.object``; only if someone listens.

        The set-based twin of ``emit`` for batches of millions: the same envelope and key order,
        ids sharing this call's time prefix and numbered in ``order_by`` order (still unique, still
        oldest first). ``source`` and the expressions are SQL from Pledge's own code, never input.
        """
        endpoints = self._endpoints_for(event_type)
        if not endpoints:
            return 0
        prefix = self._id_prefix()
        pg = self._conn.dialect.name == "postgresql"
        number = "lpad(CAST(pledge_n AS TEXT), 12, '0')" if pg else "printf('%012d', pledge_n)"
        event_id = f"'{prefix}' || {number}"
        body = (
            # "\\:" keeps text() from reading ":<digits>" as a parameter
            f'\'{{"created"\\:{self._created_s},"data":{{"object":\' || {object_json} || '
            f'\'}},"id":"\' || {event_id} || \'","object":"event","type":"{event_type}"}}\''
        )
        written = self._conn.execute(
            text(
                "INSERT INTO webhook_events (event_id, type, created_at_us, payload) "
                f"SELECT {event_id}, :type, :created, {body} "
                f"FROM (SELECT s.*, ROW_NUMBER() OVER (ORDER BY {order_by}) AS pledge_n "
                f"FROM {source} AS s) AS n"
            ),
            {"type": event_type, "created": self._created_s * 1_000_000},
        ).rowcount
        for endpoint_id in endpoints:  # the events just written: ids above the prefix, below "prefix" + "g"
            self._conn.execute(
                text(
                    "INSERT INTO webhook_deliveries "
                    "(event_id, endpoint_id, status, attempts, next_attempt_at_us) "
                    "SELECT event_id, :endpoint, 'pending', 0, :wall FROM webhook_events "
                    "WHERE event_id > :low AND event_id < :high"
                ),
                {"endpoint": endpoint_id, "wall": self._wall_us, "low": prefix, "high": prefix + "g"},
            )
        return int(written)


class WebhookStore:
    def __init__(self, engine: Engine, wall_clock: Clock | None = None) -> None:
        self.engine = engine
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.reader = reader_engine(engine)  # reads never wait for a long SQLite write

    def create_endpoint(
        self, url: str, events: list[str], description: str, now_us: int, audit: CallAudit | None = None
    ) -> Endpoint:
        endpoint = Endpoint(
            f"we_{secrets.token_hex(12)}",
            url,
            sorted(set(events)),
            f"whsec_{secrets.token_urlsafe(32)}",
            description,
            True,
            now_us,
        )
        with self.engine.begin() as conn:
            conn.execute(
                webhook_endpoints.insert().values(
                    endpoint_id=endpoint.endpoint_id,
                    url=url,
                    events=json.dumps(endpoint.events),
                    secret=endpoint.secret,
                    description=description,
                    enabled=True,
                    created_at_us=now_us,
                )
            )
            _audit_in(conn, audit, f"webhook_endpoint:{endpoint.endpoint_id}", self.wall_clock)
        return endpoint

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        with self.reader.connect() as conn:
            row = conn.execute(
                select(webhook_endpoints).where(webhook_endpoints.c.endpoint_id == endpoint_id)
            ).first()
        return _endpoint(row) if row else None

    def endpoints(self, starting_after: str | None, limit: int) -> list[Endpoint]:
        stmt = select(webhook_endpoints).order_by(webhook_endpoints.c.endpoint_id).limit(limit)
        if starting_after:
            stmt = stmt.where(webhook_endpoints.c.endpoint_id > starting_after)
        with self.reader.connect() as conn:
            return [_endpoint(r) for r in conn.execute(stmt)]

    def disable_endpoint(self, endpoint_id: str, audit: CallAudit | None = None) -> Endpoint | None:
        with self.engine.begin() as conn:
            _audit_before(conn, audit, f"webhook_endpoint:{endpoint_id}")
            done = conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.endpoint_id == endpoint_id)
                .values(enabled=False)
            )
            if done.rowcount == 1:
                _audit_in(conn, audit, f"webhook_endpoint:{endpoint_id}", self.wall_clock)
        return self.endpoint(endpoint_id)

    def event(self, event_id: str) -> dict[str, Any] | None:
        with self.reader.connect() as conn:
            payload = conn.scalar(
                select(webhook_events.c.payload).where(webhook_events.c.event_id == event_id)
            )
        return json.loads(payload) if payload else None

    def events(self, starting_after: str | None, limit: int, event_type: str | None) -> list[dict[str, Any]]:
        stmt = select(webhook_events.c.payload).order_by(webhook_events.c.event_id).limit(limit)
        if starting_after:
            stmt = stmt.where(webhook_events.c.event_id > starting_after)
        if event_type:
            stmt = stmt.where(webhook_events.c.type == event_type)
        with self.reader.connect() as conn:
            return [json.loads(p) for p in conn.scalars(stmt)]

    # -- delivery bookkeeping -----------------------------------------------------

    def due(self, now_us: int, limit: int) -> list[Delivery]:
        d, e, w = webhook_deliveries.c, webhook_endpoints.c, webhook_events.c
        stmt = (
            select(d.event_id, d.endpoint_id, e.url, e.secret, w.payload, d.attempts, d.next_attempt_at_us)
            .join(webhook_endpoints, e.endpoint_id == d.endpoint_id)
            .join(webhook_events, w.event_id == d.event_id)
            .where(d.status == "pending", d.next_attempt_at_us <= now_us, e.enabled.is_(True))
            .order_by(d.next_attempt_at_us, d.event_id)
            .limit(limit)
        )
        with self.reader.connect() as conn:
            return [Delivery(*row) for row in conn.execute(stmt)]

    def lease(self, delivery: Delivery, until_us: int) -> bool:
        """Claim a due delivery for one attempt; False if another worker took it first."""
        d = webhook_deliveries.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(webhook_deliveries)
                .where(
                    d.event_id == delivery.event_id,
                    d.endpoint_id == delivery.endpoint_id,
                    d.status == "pending",
                    d.next_attempt_at_us == delivery.next_attempt_at_us,
                )
                .values(next_attempt_at_us=until_us)
            )
        return result.rowcount == 1

    def record_attempt(
        self,
        delivery: Delivery,
        *,
        status: str,
        http_status: int | None,
        error: str | None,
        next_attempt_at_us: int,
        delivered_at_us: int | None,
    ) -> None:
        d = webhook_deliveries.c
        with self.engine.begin() as conn:
            conn.execute(
                update(webhook_deliveries)
                .where(d.event_id == delivery.event_id, d.endpoint_id == delivery.endpoint_id)
                .values(
                    status=status,
                    attempts=delivery.attempts + 1,
                    last_status=http_status,
                    last_error=None if error is None else error[:500],
                    next_attempt_at_us=next_attempt_at_us,
                    delivered_at_us=delivered_at_us,
                )
            )

    def deliveries_of(self, event_id: str) -> list[dict[str, Any]]:
        d = webhook_deliveries.c
        with self.reader.connect() as conn:
            rows = conn.execute(select(webhook_deliveries).where(d.event_id == event_id))
            return [dict(r._mapping) for r in rows]
