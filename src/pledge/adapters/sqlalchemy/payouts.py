"""Payout transfers on SQLAlchemy Core (ADR 24).

Dispatchers take work with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
of them share the queue without taking the same transfer; SQLite compiles the
clause away, and its ``BEGIN IMMEDIATE`` makes every unit of work the single
writer. An account's day of limits is taken under a transaction advisory lock
(``lock_day``, ADR 32), so two dispatchers never both fill its last room.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, exists, func, insert, select, text, update

from pledge.adapters.sqlalchemy.repositories import _grant
from pledge.adapters.sqlalchemy.tables import accounts, grants, payout_transfers
from pledge.domain.grant import Grant, GrantState
from pledge.domain.payout_transfers import IN_FLIGHT_STATES, Transfer, TransferState
from pledge.usecases.payout_ports import PayoutRecord

t = payout_transfers
_IN_FLIGHT = sorted(s.value for s in IN_FLIGHT_STATES)
_DAY_STATES = [*_IN_FLIGHT, TransferState.SUCCEEDED.value]  # what a day's limits count
_LOCK_DAY = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_FIXED = ("transfer_id", "grant_id", "account_id", "campaign_id", "seq", "created_at_us")  # never change
# Built once: building an UPDATE with ``.values(**row)`` per call cost more than running it.
_UPDATE = (
    update(t)
    .where(t.c.transfer_id == bindparam("b_transfer_id"))
    .values({c.name: bindparam(c.name) for c in t.c if c.name not in _FIXED})
)


def _record(row: Any) -> PayoutRecord:
    transfer = Transfer(
        row.grant_id,
        int(row.seq),
        int(row.attempt),
        row.rail,
        int(row.amount_minor),
        row.currency,
        date.fromisoformat(row.due_on),
        TransferState(row.state),
        row.reason,
        row.provider_ref,
        row.package_info,
    )
    return PayoutRecord(
        transfer,
        row.campaign_id,
        row.account_id,
        int(row.attempts),
        date.fromisoformat(row.sent_on) if row.sent_on else None,
        int(row.created_at_us),
        int(row.updated_at_us),
    )


def _values(record: PayoutRecord) -> dict[str, Any]:
    tr = record.transfer
    return {
        "transfer_id": record.id,
        "grant_id": tr.grant_id,
        "account_id": record.account_id,
        "campaign_id": record.campaign_id,
        "rail": tr.rail,
        "seq": tr.seq,
        "attempt": tr.attempt,
        "request_id": tr.request_id,
        "amount_minor": tr.amount_minor,
        "currency": tr.currency,
        "due_on": tr.due_on.isoformat(),
        "state": tr.state.value,
        "provider_ref": tr.provider_ref,
        "reason": tr.reason[:200],
        "package_info": tr.package_info,
        "attempts": record.attempts,
        "sent_on": record.sent_on.isoformat() if record.sent_on else None,
        "created_at_us": record.created_at_us,
        "updated_at_us": record.updated_at_us,
    }


class SqlPayouts:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _locked(self, stmt: Select[Any]) -> list[PayoutRecord]:
        return [_record(row) for row in self._conn.execute(stmt.with_for_update(skip_locked=True))]

    def add_plan(self, records: Sequence[PayoutRecord]) -> None:
        if records:
            self._conn.execute(insert(t), [_values(r) for r in records])

    def unplanned(self, campaign_id: str, after: str, limit: int) -> list[Grant]:
        planned = exists().where(t.c.grant_id == grants.c.grant_id)
        stmt = (
            select(grants)
            .where(
                grants.c.campaign_id == campaign_id,
                grants.c.state == GrantState.CLAIMED.value,
                grants.c.grant_id > after,
                ~planned,
            )
            .order_by(grants.c.grant_id)
            .limit(max(limit, 0))
        )
        return [_grant(row) for row in self._conn.execute(stmt)]

    def due(self, campaign_id: str, on: date, after: str, limit: int) -> list[PayoutRecord]:
        stmt = (
            select(t)
            .where(
                t.c.campaign_id == campaign_id,
                t.c.state == TransferState.PENDING.value,
                t.c.due_on <= on.isoformat(),
                t.c.transfer_id > after,
            )
            .order_by(t.c.transfer_id)
            .limit(max(limit, 0))
        )
        return self._locked(stmt)

    def in_flight(self, after: str, limit: int) -> list[PayoutRecord]:
        stmt = (
            select(t)
            .where(t.c.state.in_(_IN_FLIGHT), t.c.transfer_id > after)
            .order_by(t.c.transfer_id)
            .limit(max(limit, 0))
        )
        return self._locked(stmt)

    def get(self, transfer_id: str, *, for_update: bool = False) -> PayoutRecord | None:
        stmt = select(t).where(t.c.transfer_id == transfer_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).first()
        return _record(row) if row else None

    def by_request(self, request_id: str, *, for_update: bool = False) -> PayoutRecord | None:
        stmt = select(t).where(t.c.request_id == request_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).first()
        return _record(row) if row else None

    def by_requests(self, request_ids: Sequence[str]) -> dict[str, PayoutRecord]:
        if not request_ids:
            return {}
        rows = self._conn.execute(select(t).where(t.c.request_id.in_(list(request_ids))))
        return {row.request_id: _record(row) for row in rows}

    def succeeded_sent_between(self, rail: str, first: date, last: date) -> list[PayoutRecord]:
        stmt = (
            select(t)
            .where(
                t.c.rail == rail,
                t.c.state == TransferState.SUCCEEDED.value,
                t.c.sent_on >= first.isoformat(),
                t.c.sent_on <= last.isoformat(),
            )
            .order_by(t.c.transfer_id)
        )
        return [_record(row) for row in self._conn.execute(stmt)]

    def of_grant(self, grant_id: str) -> list[PayoutRecord]:
        stmt = select(t).where(t.c.grant_id == grant_id).order_by(t.c.transfer_id)
        return [_record(row) for row in self._conn.execute(stmt)]

    def campaign_totals(self, campaign_id: str) -> dict[str, int]:
        rows = self._conn.execute(
            select(t.c.state, func.sum(t.c.amount_minor))
            .where(t.c.campaign_id == campaign_id)
            .group_by(t.c.state)
        )
        return {state: int(total) for state, total in rows}

    def update(self, record: PayoutRecord) -> None:
        self.update_many([record])

    def update_many(self, records: Sequence[PayoutRecord]) -> None:
        rows = []
        for record in records:
            values = _values(record)
            values["b_transfer_id"] = record.id
            for key in _FIXED:
                del values[key]  # who and what a transfer is never changes
            rows.append(values)
        if rows:
            self._conn.execute(_UPDATE, rows)

    def day_usage(
        self, rail: str, account_ids: Sequence[str], day: date, *, merchant: bool
    ) -> tuple[dict[str, tuple[int, int]], int]:
        sent = and_(t.c.rail == rail, t.c.sent_on == day.isoformat(), t.c.state.in_(_DAY_STATES))
        usage: dict[str, tuple[int, int]] = dict.fromkeys(account_ids, (0, 0))
        if usage:
            rows = self._conn.execute(
                select(t.c.account_id, func.sum(t.c.amount_minor), func.count())
                .where(sent, t.c.account_id.in_(sorted(usage)))
                .group_by(t.c.account_id)
            )
            usage.update((account, (int(amount), int(count))) for account, amount, count in rows)
        total = 0
        if merchant:
            total = self._conn.execute(
                select(func.coalesce(func.sum(t.c.amount_minor), 0)).where(sent)
            ).scalar_one()
        return usage, int(total)

    def openids(self, account_ids: Sequence[str]) -> dict[str, str]:
        found = dict.fromkeys(account_ids, "")
        if found:
            rows = self._conn.execute(
                select(accounts.c.account_id, accounts.c.wechat_openid).where(
                    accounts.c.account_id.in_(sorted(found))
                )
            )
            found.update((account, openid or "") for account, openid in rows)
        return found

    def lock_day(self, rail: str, account_ids: Sequence[str], day: date, *, merchant: bool) -> None:
        if self._conn.dialect.name != "postgresql":
            return  # SQLite: BEGIN IMMEDIATE already made this transaction the only writer
        keys = sorted({f"{rail}:{day.isoformat()}:account:{a}" for a in account_ids})
        if merchant:
            keys.insert(0, f"{rail}:{day.isoformat()}:merchant")
        for key in keys:  # one order for every dispatcher: no two wait for each other
            self._conn.execute(_LOCK_DAY, {"key": f"pledge.payout_day:{key}"})

    def page(
        self,
        *,
        campaign_id: str | None,
        grant_id: str | None,
        state: str | None,
        starting_after: str | None,
        limit: int,
    ) -> list[PayoutRecord]:
        stmt = select(t).order_by(t.c.transfer_id).limit(max(limit, 0))
        if campaign_id:
            stmt = stmt.where(t.c.campaign_id == campaign_id)
        if grant_id:
            stmt = stmt.where(t.c.grant_id == grant_id)
        if state:
            stmt = stmt.where(t.c.state == state)
        if starting_after:
            stmt = stmt.where(t.c.transfer_id > starting_after)
        return [_record(row) for row in self._conn.execute(stmt)]

    def totals(self) -> dict[tuple[str, str, str], int]:
        rows = self._conn.execute(
            select(t.c.rail, t.c.currency, t.c.state, func.sum(t.c.amount_minor)).group_by(
                t.c.rail, t.c.currency, t.c.state
            )
        )
        return {(rail, currency, state): int(total) for rail, currency, state, total in rows}
