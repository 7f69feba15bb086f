"""Accounts and purchases: all-or-nothing bulk import and the push-down scans.

Every scan evaluates the campaign's conditions inside the database (one pass,
per-condition flags), never by pulling rows into Python: the rule compiler
turns each condition into SQL whose meaning is tested against the in-process
CEL evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from pledge.adapters.sqlalchemy.database import bulk_insert
from pledge.adapters.sqlalchemy.rule_sql import DEFAULT_COLUMNS, compile_condition_sql
from pledge.adapters.sqlalchemy.tables import accounts, purchases
from pledge.domain.errors import InputError
from pledge.domain.issuance import Candidate
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.ports import NearMiss, ScanCounts, Selection

STREAM = {"stream_results": True, "yield_per": 10_000}  # server-side cursor on PostgreSQL
_IN_CHUNK = 500  # well under every engine's bind-parameter limit

_PURCHASE_KEYS = (
    "purchase_id",
    "account_id",
    "sku",
    "serial",
    "purchased_at_us",
    "price_minor",
    "currency",
    "status",
    "channel",
)
_ACCOUNT_KEYS = ("account_id", "region", "registered_at_us")
_FROM = "FROM purchases p JOIN accounts a ON a.account_id = p.account_id"


def _flags(conn: Connection, selection: Selection) -> tuple[list[str], dict[str, Any]]:
    """SQL 0/1 failure flags: window first, then one per rule condition."""
    dialect = conn.dialect.name
    params: dict[str, Any] = {"w_start": selection.window.start_us, "w_end": selection.window.end_us}
    flags = ["CASE WHEN p.purchased_at_us >= :w_start AND p.purchased_at_us < :w_end THEN 0 ELSE 1 END"]
    for index, condition in enumerate(selection.conditions):
        sql, cond_params = compile_condition_sql(
            condition.node, dialect, DEFAULT_COLUMNS, prefix=f"c{index}_"
        )
        params.update(cond_params)
        flags.append(f"CASE WHEN {sql} THEN 0 ELSE 1 END")
    return flags, params


def _where_all(conn: Connection, selection: Selection) -> tuple[str, dict[str, Any]]:
    dialect = conn.dialect.name
    params: dict[str, Any] = {"w_start": selection.window.start_us, "w_end": selection.window.end_us}
    parts = ["p.purchased_at_us >= :w_start", "p.purchased_at_us < :w_end"]
    for index, condition in enumerate(selection.conditions):
        sql, cond_params = compile_condition_sql(
            condition.node, dialect, DEFAULT_COLUMNS, prefix=f"c{index}_"
        )
        params.update(cond_params)
        parts.append(f"({sql})")
    return " AND ".join(parts), params


def condition_names(selection: Selection) -> list[str]:
    return ["purchased", *(c.name for c in selection.conditions)]


class SqlPurchases:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- import -------------------------------------------------------------
    def add_accounts(self, batch: Sequence[AccountRecord], *, update: bool) -> tuple[int, int]:
        return self._add(accounts, "account_id", _ACCOUNT_KEYS, batch, update, "accounts")

    def add_purchases(self, batch: Sequence[PurchaseRecord], *, update: bool) -> tuple[int, int]:
        return self._add(purchases, "purchase_id", _PURCHASE_KEYS, batch, update, "purchases")

    def _add(
        self,
        table: Any,
        key: str,
        keys: tuple[str, ...],
        batch: Sequence[tuple[Any, ...]],
        update: bool,
        what: str,
    ) -> tuple[int, int]:
        """Insert a batch; returns (imported, unchanged). Raises InputError naming the offending id."""
        if not batch:
            return 0, 0
        # Fast path: a fresh batch goes in as tuples (COPY / executemany) inside a savepoint; only a
        # batch that collides with stored rows pays for the row-by-row comparison.
        savepoint = self._conn.begin_nested()
        try:
            bulk_insert(self._conn, table.name, keys, batch)
            savepoint.commit()
            return len(batch), 0
        except IntegrityError:
            savepoint.rollback()
        rows = [dict(zip(keys, record, strict=True)) for record in batch]
        return self._add_slow(table, key, keys, rows, update, what)

    def _add_slow(
        self, table: Any, key: str, keys: tuple[str, ...], rows: list[dict[str, Any]], update: bool, what: str
    ) -> tuple[int, int]:
        existing: dict[str, tuple[Any, ...]] = {}
        ids = [row[key] for row in rows]
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            stmt = select(*(table.c[k] for k in keys)).where(table.c[key].in_(chunk))
            for found in self._conn.execute(stmt):
                existing[found[0]] = tuple(found)
        new_rows, changed, unchanged = [], [], 0
        for row in rows:
            before = existing.get(row[key])
            if before is None:
                new_rows.append(row)
            elif before == tuple(row[k] for k in keys):
                unchanged += 1
            else:
                changed.append(row)
        if changed and not update:
            first = changed[0]
            stored = dict(zip(keys, existing[first[key]], strict=True))
            fields = [k for k in keys if stored[k] != first[k]]
            raise InputError(
                f"{what}: {key} {first[key]} already exists with a different {', '.join(fields)} "
                f"({len(changed)} such rows in this batch); use --update to replace them",
                code="conflicting_reimport",
                param=f"{key} {first[key]}: {fields[0]}",
            )
        if what == "purchases" and new_rows:
            self._check_accounts_exist(new_rows)
        if new_rows:
            self._conn.execute(table.insert(), new_rows)
        for row in changed:
            self._conn.execute(table.update().where(table.c[key] == row[key]).values(**row))
        return len(new_rows) + len(changed), unchanged

    def _check_accounts_exist(self, rows: list[dict[str, Any]]) -> None:
        wanted = sorted({row["account_id"] for row in rows})
        known: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            known.update(
                self._conn.scalars(select(accounts.c.account_id).where(accounts.c.account_id.in_(chunk)))
            )
        for row in rows:
            if row["account_id"] not in known:
                raise InputError(
                    f"purchases: purchase_id {row['purchase_id']}, account_id: {row['account_id']!r} "
                    "is not an "
                    "imported account (import accounts first)",
                    code="unknown_account",
                    param=f"purchase_id {row['purchase_id']}: account_id",
                )

    # -- scans ----------------------------------------------------------------
    def scan(self, selection: Selection) -> ScanCounts:
        flags, params = _flags(self._conn, selection)
        params["currency"] = selection.currency
        names = condition_names(selection)
        inner = ", ".join(f"{flag} AS f{i}" for i, flag in enumerate(flags))
        total = " + ".join(f"f{i}" for i in range(len(flags)))
        aggregates = [
            "COUNT(*)",
            f"COALESCE(SUM(CASE WHEN {total} = 0 THEN 1 ELSE 0 END), 0)",
            f"COALESCE(SUM(CASE WHEN {total} = 0 AND currency <> :currency THEN 1 ELSE 0 END), 0)",
        ]
        aggregates += [f"COALESCE(SUM(f{i}), 0)" for i in range(len(flags))]
        aggregates += [
            f"COALESCE(SUM(CASE WHEN {total} = 1 AND f{i} = 1 THEN 1 ELSE 0 END), 0)"
            for i in range(len(flags))
        ]
        sql = f"SELECT {', '.join(aggregates)} FROM (SELECT p.currency AS currency, {inner} {_FROM}) s"
        row = self._conn.execute(text(sql), params).one()
        n = len(flags)
        return ScanCounts(
            evaluated=int(row[0]),
            qualifying=int(row[1]),
            other_currency=int(row[2]),
            rejections={names[i]: int(row[3 + i]) for i in range(n)},
            near_misses_by_condition={names[i]: int(row[3 + n + i]) for i in range(n)},
        )

    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]:
        flags, params = _flags(self._conn, selection)
        names = condition_names(selection)
        cols = ", ".join(f"{flag} AS f{i}" for i, flag in enumerate(flags))
        total = " + ".join(f"f{i}" for i in range(len(flags)))
        # Closest misses first: how far outside the window (0 for other conditions), then time.
        outside = (
            "CASE WHEN p.purchased_at_us < :w_start THEN :w_start - p.purchased_at_us "
            "WHEN p.purchased_at_us >= :w_end THEN p.purchased_at_us - :w_end + 1 ELSE 0 END"
        )
        sql = (
            f"SELECT * FROM (SELECT p.purchase_id, p.account_id, p.purchased_at_us, {cols}, "
            f"{outside} AS outside_us {_FROM}) s "
            f"WHERE {total} = 1 ORDER BY outside_us, purchased_at_us, purchase_id LIMIT :limit"
        )
        out = []
        for row in self._conn.execute(text(sql), {**params, "limit": limit}):
            failed = next(i for i in range(len(flags)) if row[3 + i])
            out.append(NearMiss(row[0], row[1], names[failed], int(row[2])))
        return out

    def candidates(self, selection: Selection) -> Iterator[Candidate]:
        where, params = _where_all(self._conn, selection)
        sql = (
            f"SELECT p.purchase_id, p.account_id, p.serial, p.purchased_at_us, p.price_minor {_FROM} "
            f"WHERE {where} ORDER BY p.purchased_at_us, p.purchase_id"
        )
        # Per-statement options: Connection.execution_options() would change the connection itself.
        result = self._conn.execute(text(sql), params, execution_options=STREAM)
        for row in result:
            yield Candidate(row[0], row[1], row[2], int(row[3]), int(row[4]))

    def overpaid(self, selection: Selection, amount_minor: int, limit: int) -> tuple[int, list[str]]:
        where, params = _where_all(self._conn, selection)
        params["amount"] = amount_minor
        count = self._conn.execute(
            text(f"SELECT COUNT(*) {_FROM} WHERE {where} AND p.price_minor < :amount"), params
        ).scalar_one()
        ids = self._conn.scalars(
            text(
                f"SELECT p.purchase_id {_FROM} WHERE {where} AND p.price_minor < :amount "
                "ORDER BY p.purchased_at_us, p.purchase_id LIMIT :limit"
            ),
            {**params, "limit": limit},
        ).all()
        return int(count), list(ids)

    def of_account(self, account_id: str) -> tuple[AccountRecord | None, list[PurchaseRecord]]:
        found = self._conn.execute(
            select(*(accounts.c[k] for k in _ACCOUNT_KEYS)).where(accounts.c.account_id == account_id)
        ).first()
        rows = self._conn.execute(
            select(*(purchases.c[k] for k in _PURCHASE_KEYS))
            .where(purchases.c.account_id == bindparam("a"))
            .order_by(purchases.c.purchased_at_us, purchases.c.purchase_id),
            {"a": account_id},
        )
        return (AccountRecord(*found) if found else None), [PurchaseRecord(*row) for row in rows]
