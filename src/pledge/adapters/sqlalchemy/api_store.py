"""Storage for the HTTP API, one module per concern, gathered for the callers that use several.

Keys (:mod:`.api_keys`), jobs (:mod:`.api_jobs`), the audit chain (:mod:`.audit_log`),
snapshots of audited subjects (:mod:`.snapshots`) and idempotency keys (:mod:`.idempotency`)
each stand alone; the web shell sees each through its own port (``pledge.entrypoints.web.ports``).
:class:`ApiStore` adds the few plain reads the API answers (an account, a purchase, a grant)
on one reader engine shared by all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from pledge.adapters.sqlalchemy.api_jobs import JobRow, SqlJobs
from pledge.adapters.sqlalchemy.api_keys import SCOPES, ApiKey, SqlApiKeys, secret_hash
from pledge.adapters.sqlalchemy.audit_log import CallAudit, SqlAuditLog, append_audit
from pledge.adapters.sqlalchemy.engines import reader_engine
from pledge.adapters.sqlalchemy.purchases import SqlPurchases
from pledge.adapters.sqlalchemy.repositories import SqlGrants
from pledge.adapters.sqlalchemy.snapshots import campaign_snapshot, snapshot
from pledge.adapters.sqlalchemy.tables import purchases
from pledge.domain.grant import Grant
from pledge.domain.records import AccountRecord, PurchaseRecord

# The webhook adapters and the CLI import these from here.
__all__ = [
    "SCOPES",
    "ApiKey",
    "ApiStore",
    "CallAudit",
    "JobRow",
    "append_audit",
    "campaign_snapshot",
    "reader_engine",
    "secret_hash",
    "snapshot",
]


class ApiStore(SqlApiKeys, SqlJobs, SqlAuditLog):
    def __init__(self, engine: Engine) -> None:
        reader = reader_engine(engine)
        SqlApiKeys.__init__(self, engine, reader)
        SqlJobs.__init__(self, engine, reader)
        SqlAuditLog.__init__(self, engine, reader)

    def snapshot(self, subject: str) -> dict[str, Any]:
        with self.reader.connect() as conn:
            return snapshot(conn, subject)

    # -- reads --------------------------------------------------------------------

    def account(self, account_id: str) -> tuple[AccountRecord | None, list[PurchaseRecord]]:
        with self.reader.connect() as conn:
            return SqlPurchases(conn).of_account(account_id)

    def purchase(self, purchase_id: str) -> PurchaseRecord | None:
        p = purchases.c
        with self.reader.connect() as conn:
            row = conn.execute(
                select(
                    p.purchase_id,
                    p.account_id,
                    p.sku,
                    p.serial,
                    p.purchased_at_us,
                    p.price_minor,
                    p.currency,
                    p.status,
                    p.channel,
                ).where(p.purchase_id == purchase_id)
            ).first()
        return PurchaseRecord(*row) if row else None

    def grant(self, grant_id: str) -> Grant | None:
        with self.reader.connect() as conn:
            return SqlGrants(conn).get(grant_id)
