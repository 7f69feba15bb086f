"""One database transaction per unit of work; its recorded events go to the event log at commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine

from pledge.adapters.clock import SystemClock
from pledge.adapters.sqlalchemy.billing import SqlCatalogs, SqlOutbox, SqlSubscriptions
from pledge.adapters.sqlalchemy.claims import SqlClaims, SqlSerials
from pledge.adapters.sqlalchemy.corrections import SqlCorrections
from pledge.adapters.sqlalchemy.database import READ_ONLY
from pledge.adapters.sqlalchemy.event_log import append_events
from pledge.adapters.sqlalchemy.notifications import SqlNotifications
from pledge.adapters.sqlalchemy.payouts import SqlPayouts
from pledge.adapters.sqlalchemy.purchases import SqlPurchases
from pledge.adapters.sqlalchemy.repositories import SqlBudgets, SqlCampaigns, SqlGrants, SqlLedger
from pledge.domain.events import DomainEvent
from pledge.usecases.claim_ports import Claims, SerialRegister
from pledge.usecases.notification_ports import NotificationStore
from pledge.usecases.payout_ports import PayoutTransfers
from pledge.usecases.ports import (
    Budgets,
    Campaigns,
    Catalogs,
    Clock,
    Corrections,
    Grants,
    Ledger,
    Outbox,
    Subscriptions,
)
from pledge.usecases.scan_ports import Purchases


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back, events included.

    ``wall_clock`` stamps the log entries (when they were written, whatever ``--now`` says).
    """

    campaigns: Campaigns
    budgets: Budgets
    purchases: Purchases
    grants: Grants
    ledger: Ledger
    catalogs: Catalogs
    subscriptions: Subscriptions
    outbox: Outbox
    corrections: Corrections
    payouts: PayoutTransfers
    notifications: NotificationStore
    claims: Claims
    serials: SerialRegister

    def __init__(self, engine: Engine, wall_clock: Clock | None = None, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._wall_clock: Clock = wall_clock or SystemClock()
        self._conn: Connection | None = None
        self._events: list[DomainEvent] = []

    def __enter__(self) -> SqlUnitOfWork:
        self._conn = self._engine.connect()
        if self._read_only:
            self._conn.execution_options(**{READ_ONLY: True})
        self._conn.begin()
        self._events = []
        self.campaigns = SqlCampaigns(self._conn)
        self.budgets = SqlBudgets(self._conn)
        self.purchases = SqlPurchases(self._conn)
        self.grants = self.sql_grants = SqlGrants(self._conn)
        self.ledger = SqlLedger(self._conn)
        self.catalogs = SqlCatalogs(self._conn)
        self.subscriptions = SqlSubscriptions(self._conn)
        self.outbox = SqlOutbox(self._conn)
        self.corrections = SqlCorrections(self._conn)
        self.payouts = SqlPayouts(self._conn)
        self.notifications = SqlNotifications(self._conn)
        self.claims = SqlClaims(self._conn)
        self.serials = SqlSerials(self._conn)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None
            self._events = []

    def record(self, event: DomainEvent) -> None:
        """Remember what changed; written to the log (and handed to ``_publish``) at commit."""
        self._events.append(event)

    def _publish(self, conn: Connection, events: Sequence[DomainEvent]) -> None:
        """What a subclass adds to the transaction for the committed events (webhooks, audit)."""

    def commit(self) -> None:
        conn = self._conn
        assert conn is not None
        self.grants.flush_added()  # nothing staged is ever left behind; consumers read the grants
        events, self._events = self._events, []
        self._publish(conn, events)
        append_events(conn, events, self._wall_clock.now_us())
        conn.commit()  # the next statement begins a new transaction
