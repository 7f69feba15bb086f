"""One database transaction per unit of work."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from pledge.adapters.sqlalchemy.billing import SqlCatalogs, SqlOutbox, SqlSubscriptions
from pledge.adapters.sqlalchemy.corrections import SqlCorrections
from pledge.adapters.sqlalchemy.payouts import SqlPayouts
from pledge.adapters.sqlalchemy.purchases import SqlPurchases
from pledge.adapters.sqlalchemy.repositories import SqlBudgets, SqlCampaigns, SqlGrants, SqlLedger
from pledge.usecases.payout_ports import PayoutTransfers
from pledge.usecases.ports import (
    Budgets,
    Campaigns,
    Catalogs,
    Corrections,
    Grants,
    Ledger,
    Outbox,
    Purchases,
    Subscriptions,
)


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back."""

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

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self._conn = self._engine.connect()
        self._conn.begin()
        self.campaigns = SqlCampaigns(self._conn)
        self.budgets = SqlBudgets(self._conn)
        self.purchases = SqlPurchases(self._conn)
        self.grants = SqlGrants(self._conn)
        self.ledger = SqlLedger(self._conn)
        self.catalogs = SqlCatalogs(self._conn)
        self.subscriptions = SqlSubscriptions(self._conn)
        self.outbox = SqlOutbox(self._conn)
        self.corrections = SqlCorrections(self._conn)
        self.payouts = SqlPayouts(self._conn)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    def commit(self) -> None:
        assert self._conn is not None
        self.grants.flush_added()  # nothing staged is ever left behind
        self._conn.commit()  # the next statement begins a new transaction
