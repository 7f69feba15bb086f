"""The unit of work every entry point uses: events to the log, webhooks, and the call's audit entry.

The use cases record domain events on their unit of work (ADR 20). At commit, in the very
transaction that makes the change, this one turns them into webhook events (``fanout``), writes the
audit entry of the call it serves, and lets :class:`SqlUnitOfWork` append them to the event log. So
an event is never sent for a change that rolled back, and a committed change never lacks its event
or its audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from pledge.adapters.clock import SystemClock
from pledge.adapters.sqlalchemy.api_store import CallAudit, append_audit
from pledge.adapters.sqlalchemy.engines import write_when_free
from pledge.adapters.sqlalchemy.uow import SqlUnitOfWork
from pledge.adapters.webhooks.fanout import fan_out
from pledge.adapters.webhooks.store import Outbox
from pledge.adapters.webhooks.subjects import snapshot
from pledge.domain.events import (
    DomainEvent,
    GrantClaimed,
    GrantRevoked,
    SubscriptionRenewed,
    SubscriptionStarted,
)
from pledge.usecases.grants import grant_json
from pledge.usecases.ports import Clock

# The audit subject of a purchase until the use case has created (and so named) its term.
NEW_TERM_SUBJECT = "subscription:new"


class HookedUnitOfWork(SqlUnitOfWork):
    """``clock``: business time (``--now``), which webhook events carry; ``wall_clock``: when
    things really happened (audit entries, delivery schedules, log entries)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        audit: CallAudit | None,
        wall_clock: Clock | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        wall = wall_clock or SystemClock()
        super().__init__(engine, wall, read_only=read_only)
        self._clock = clock
        self._wall = wall
        self._audit = audit

    def __enter__(self) -> HookedUnitOfWork:
        super().__enter__()
        conn = self._connection()
        self._outbox = Outbox(conn, self._clock.now_us(), self._wall)
        audit = self._audit
        if audit is not None and not audit.written:
            # The "before" of the entry this unit may write, read in its own transaction (on SQLite
            # under the write lock BEGIN IMMEDIATE takes): the state its change starts from.
            audit.before = snapshot(conn, audit.subject)
        return self

    def _connection(self) -> Connection:
        conn = self._conn
        assert conn is not None, "inside `with uow:`"
        return conn

    def _publish(self, conn: Connection, events: Sequence[DomainEvent]) -> None:
        fan_out(conn, self.sql_grants, self._outbox, events)
        audit = self._audit
        if audit is not None and not audit.written:
            _name_new_terms(audit, events)
            # Audit times are wall-clock: --now moves business time, not when someone acted.
            append_audit(conn, audit.record(self._wall.now_us(), _after(conn, audit.subject, events)))

    def commit(self) -> None:
        super().commit()
        if self._audit is not None:
            self._audit.written = True


def _after(conn: Connection, subject: str, events: Sequence[DomainEvent]) -> dict[str, Any]:
    """The subject as committed: a grant this unit changed is known from its event, not read again."""
    kind, _, ident = subject.partition(":")
    if kind == "grant":
        for event in reversed(events):
            if isinstance(event, GrantClaimed | GrantRevoked) and event.grant.id == ident:
                return grant_json(event.grant)
    return snapshot(conn, subject)


def _name_new_terms(audit: CallAudit, events: Sequence[DomainEvent]) -> None:
    """A purchase is audited under the term it created; a repurchase also names the new term."""
    created = [e.term.id for e in events if isinstance(e, SubscriptionStarted | SubscriptionRenewed)]
    if not created or not audit.subject.startswith("subscription:"):
        return
    if audit.subject == NEW_TERM_SUBJECT:
        audit.subject = f"subscription:{created[0]}"
    else:
        audit.extra_after["created_terms"] = created


def append_unchanged(engine: Engine, audit: CallAudit, wall_clock: Clock, wait_s: float = 0.0) -> None:
    """Record a call that committed nothing (a repeat, a no-op).

    Who asked, and the state: read in the transaction that appends the entry, so before and
    after are the same state, as nothing of this call changed it.
    """
    if audit.written:
        return

    def write(conn: Connection) -> None:
        state = audit.before = snapshot(conn, audit.subject)
        append_audit(conn, audit.record(wall_clock.now_us(), state))

    write_when_free(engine, write, wait_s)
    audit.written = True


class HookedFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> HookedUnitOfWork: ...


def hooked_factory(engine: Engine, clock: Clock, audit: CallAudit | None) -> HookedFactory:
    """A unit-of-work factory for the use cases; every unit it makes shares one audit entry."""

    def make(*, read_only: bool = False) -> HookedUnitOfWork:
        return HookedUnitOfWork(engine, clock, audit, read_only=read_only)

    return make
