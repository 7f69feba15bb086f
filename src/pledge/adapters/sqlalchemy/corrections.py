"""Corrections on SQLAlchemy Core: live grants of changed records, claw-back cases (ADR 14)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pledge.adapters.sqlalchemy.expiry import GRANT_ROWS, lapsed_state
from pledge.adapters.sqlalchemy.repositories import grant_of
from pledge.adapters.sqlalchemy.tables import clawbacks, grants, purchases
from pledge.domain.corrections import ClawbackCase, ClawbackState, clawback_id
from pledge.domain.grant import OPENED_STATES, Grant, GrantState
from pledge.domain.records import AccountRecord, PurchaseRecord

_CHUNK = 500  # well under every engine's bind-parameter limit
_LIVE = (GrantState.ISSUED.value, *sorted(s.value for s in OPENED_STATES))
_PURCHASE_KEYS = ("purchase_id", "account_id", "sku", "serial", "purchased_at_us", "price_minor", "currency",
                  "status", "channel")  # fmt: skip


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = sorted(set(ids))  # key order: probes walk the index forwards
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def _case(row: Any) -> ClawbackCase:
    return ClawbackCase(
        row.clawback_id,
        row.grant_id,
        row.campaign_id,
        row.account_id,
        row.purchase_id,
        int(row.amount_minor),
        row.currency,
        row.reason,
        ClawbackState(row.state),
        int(row.created_at_us),
    )


class SqlCorrections:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def live_grants_of_accounts(self, account_ids: Sequence[str]) -> list[Grant]:
        found: list[Grant] = []
        for chunk in _chunks(account_ids):
            # Live as they read: a grant past its campaign's expiry mark is expired (ADR 36).
            stmt = GRANT_ROWS.where(grants.c.account_id.in_(chunk), lapsed_state().in_(_LIVE))
            found.extend(grant_of(row) for row in self._conn.execute(stmt))
        return found

    def purchases(self, purchase_ids: Sequence[str]) -> dict[str, tuple[PurchaseRecord, AccountRecord]]:
        # The account fields as the purchase carries them (ADR 12): what issuance's SQL read.
        columns = [purchases.c[k] for k in _PURCHASE_KEYS]
        stmt_base = select(*columns, purchases.c.account_region, purchases.c.account_registered_at_us)
        found: dict[str, tuple[PurchaseRecord, AccountRecord]] = {}
        for chunk in _chunks(purchase_ids):
            for row in self._conn.execute(stmt_base.where(purchases.c.purchase_id.in_(chunk))):
                record = PurchaseRecord(*row[: len(_PURCHASE_KEYS)])
                found[record.purchase_id] = (record, AccountRecord(record.account_id, row[-2], int(row[-1])))
        return found

    def open_clawback(self, case: ClawbackCase) -> bool:
        # Only the key may collide quietly (the grant has a case already): a CHECK still raises.
        insert = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        result = self._conn.execute(
            insert(clawbacks)
            .values(
                clawback_id=case.id,
                grant_id=case.grant_id,
                campaign_id=case.campaign_id,
                account_id=case.account_id,
                purchase_id=case.purchase_id,
                amount_minor=case.amount_minor,
                currency=case.currency,
                reason=case.reason,
                state=case.state.value,
                created_at_us=case.created_at_us,
            )
            .on_conflict_do_nothing(index_elements=["clawback_id"])
            .returning(clawbacks.c.clawback_id)  # a row back: it went in (on both engines)
        )
        return result.first() is not None

    def clawbacks_of_grants(self, grant_ids: Sequence[str]) -> dict[str, ClawbackCase]:
        found: dict[str, ClawbackCase] = {}
        ids = {clawback_id(g): g for g in grant_ids}
        for chunk in _chunks(list(ids)):
            for row in self._conn.execute(select(clawbacks).where(clawbacks.c.clawback_id.in_(chunk))):
                found[row.grant_id] = _case(row)
        return found

    def clawbacks(
        self, *, campaign_id: str | None, state: str | None, starting_after: str | None, limit: int
    ) -> list[ClawbackCase]:
        stmt = select(clawbacks).order_by(clawbacks.c.clawback_id).limit(limit)
        if campaign_id:
            stmt = stmt.where(clawbacks.c.campaign_id == campaign_id)
        if state:
            stmt = stmt.where(clawbacks.c.state == state)
        if starting_after:
            stmt = stmt.where(clawbacks.c.clawback_id > starting_after)
        return [_case(row) for row in self._conn.execute(stmt)]

    def clawback_totals(self, campaign_id: str) -> dict[str, tuple[int, int]]:
        rows = self._conn.execute(
            select(clawbacks.c.state, func.count(), func.coalesce(func.sum(clawbacks.c.amount_minor), 0))
            .where(clawbacks.c.campaign_id == campaign_id)
            .group_by(clawbacks.c.state)
        )
        return {state: (int(n), int(total)) for state, n, total in rows}
