"""Importing accounts and purchases into SQL: a fresh batch in one insert, collisions row by row."""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, NoReturn

from sqlalchemy import Connection, Index, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from pledge.adapters.sqlalchemy.claim_tables import account_region_changes
from pledge.adapters.sqlalchemy.database import bulk_insert
from pledge.adapters.sqlalchemy.purchase_load import insert_with_accounts
from pledge.adapters.sqlalchemy.tables import accounts, purchases
from pledge.domain.errors import InputError
from pledge.domain.records import AccountRecord, PurchaseRecord, RegionChange
from pledge.domain.validation import column_of

_IN_CHUNK = 500  # well under every engine's bind-parameter limit

PURCHASE_KEYS = (
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
_STORED_KEYS = (*PURCHASE_KEYS, "account_region", "account_registered_at_us")  # ADR 12
ACCOUNT_KEYS = ("account_id", "region", "registered_at_us", "email", "phone", "locale", "wechat_openid")
_REQUIRED_ACCOUNT_KEYS = ACCOUNT_KEYS[:3]
_EMAIL, _PHONE, _LOCALE, _OPENID = (itemgetter(i) for i in range(3, 7))
_DEFAULT_LOCALE = AccountRecord("", "", 0).locale
_CONTACT_DEFAULTS = dict(zip(ACCOUNT_KEYS[3:], AccountRecord("", "", 0)[3:], strict=True))
_required = itemgetter(0, 1, 2)
_REGION = ACCOUNT_KEYS.index("region")


def stored_column(table: Any, key: str) -> Any:
    """A column as records hold it: an account's unknown contact (NULL) is its default."""
    if table is accounts and key in _CONTACT_DEFAULTS:
        return func.coalesce(table.c[key], _CONTACT_DEFAULTS[key]).label(key)
    return table.c[key]


def _plain_rows(batch: Sequence[AccountRecord]) -> list[tuple[Any, ...]]:
    """The required columns of every row. The cycle collector is paused meanwhile: these tuples form
    no cycles, yet allocating a batch of them would have it walk every record held (a third more
    time for the whole import)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return list(map(_required, batch))
    finally:
        if enabled:
            gc.enable()


def _without_contacts(batch: Sequence[AccountRecord]) -> bool:
    """No row of ``batch`` has an email, phone, openid or non-default locale (one C-level pass each)."""
    if any(map(_EMAIL, batch)) or any(map(_PHONE, batch)) or any(map(_OPENID, batch)):
        return False
    return all(map(_DEFAULT_LOCALE.__eq__, map(_LOCALE, batch)))


_ACCOUNT_FIELDS = "SELECT account_id, region, registered_at_us FROM accounts"


def _unknown_account(purchase_id: str, account_id: str) -> NoReturn:
    raise InputError(
        f"purchases: purchase_id {purchase_id}, account_id: {account_id!r} is not an imported account "
        "(import accounts first)",
        code="unknown_account",
        param=f"purchase_id {purchase_id}: account_id",
    )


class PurchaseImports:
    """The import half of :class:`~pledge.adapters.sqlalchemy.purchases.SqlPurchases`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._bulk: list[Index] | None = None  # indexes dropped by a bulk load, to rebuild
        self._changed: list[str] = []  # ids the last add replaced (corrections re-check their grants)
        self._moved: list[tuple[str, str, str]] = []  # accounts of those given another region

    # -- import -------------------------------------------------------------
    def add_accounts(self, batch: Sequence[AccountRecord], *, update: bool) -> tuple[int, int]:
        columns: Sequence[str] = ACCOUNT_KEYS
        rows: Sequence[tuple[Any, ...]] = batch
        if _without_contacts(batch):
            # No contacts in the batch (a file without those columns): new rows get the columns'
            # defaults, the same values, and three columns keep such an import as fast as before.
            columns, rows = _REQUIRED_ACCOUNT_KEYS, _plain_rows(batch)

        def fresh() -> bool:
            bulk_insert(self._conn, "accounts", columns, rows)
            return True

        return self._add(
            accounts, "account_id", ACCOUNT_KEYS, batch, update, "accounts", fresh, lambda: batch
        )

    def add_purchases(self, batch: Sequence[PurchaseRecord], *, update: bool) -> tuple[int, int]:
        def fresh() -> bool:  # with the account fields, joined in the database (ADR 37)
            return insert_with_accounts(self._conn, PURCHASE_KEYS, batch) == len(batch)

        def stored() -> list[tuple[Any, ...]]:
            return self._with_account_fields(batch)  # names the first purchase of an unknown account

        return self._add(purchases, "purchase_id", _STORED_KEYS, batch, update, "purchases", fresh, stored)

    def changed(self) -> list[str]:
        return self._changed

    def moved(self) -> list[tuple[str, str, str]]:
        return self._moved

    def record_region_changes(self, changes: Sequence[RegionChange]) -> None:
        if changes:
            self._conn.execute(account_region_changes.insert(), [c._asdict() for c in changes])

    def region_changes(self, account_id: str, since_us: int) -> list[RegionChange]:
        t = account_region_changes
        rows = self._conn.execute(
            select(t.c.account_id, t.c.old_region, t.c.new_region, t.c.changed_at_us)
            .where(t.c.account_id == account_id, t.c.changed_at_us >= since_us)
            .order_by(t.c.changed_at_us, t.c.change_id)
        )
        return [RegionChange(a, old, new, int(at)) for a, old, new, at in rows]

    def _add(
        self,
        table: Any,
        key: str,
        keys: tuple[str, ...],
        batch: Sequence[tuple[Any, ...]],
        update: bool,
        what: str,
        fresh: Callable[[], bool],
        stored: Callable[[], Sequence[tuple[Any, ...]]],
    ) -> tuple[int, int]:
        """Insert a batch; returns (imported, unchanged). Raises InputError naming the offending id.

        ``fresh`` inserts the whole batch as new rows and says whether every row went in; ``stored``
        gives the batch as rows of every column of ``keys``, on which collisions are compared.
        """
        self._changed, self._moved = [], []
        if not batch:
            return 0, 0
        # Fast path: a fresh batch goes in as tuples (COPY / executemany) inside a savepoint; only a
        # batch that collides with stored rows (or misses an account) pays for the row-by-row path.
        savepoint = self._conn.begin_nested()
        try:
            whole = fresh()
        except IntegrityError:
            whole = False
        if whole:
            savepoint.commit()
            return len(batch), 0
        savepoint.rollback()
        rows = [dict(zip(keys, record, strict=True)) for record in stored()]
        return self._add_slow(table, key, keys, rows, update, what)

    def _add_slow(
        self, table: Any, key: str, keys: tuple[str, ...], rows: list[dict[str, Any]], update: bool, what: str
    ) -> tuple[int, int]:
        existing: dict[str, tuple[Any, ...]] = {}
        ids = [row[key] for row in rows]
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            stmt = select(*(stored_column(table, k) for k in keys)).where(table.c[key].in_(chunk))
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
            fields = [column_of(k) for k in keys if stored[k] != first[k]]
            raise InputError(
                f"{what}: {key} {first[key]} already exists with a different {', '.join(fields)} "
                f"({len(changed)} such rows in this batch); use --update to replace them",
                code="conflicting_reimport",
                param=f"{key} {first[key]}: {fields[0]}",
            )
        if new_rows:
            self._conn.execute(table.insert(), new_rows)
        self._changed = [row[key] for row in changed]
        if what == "accounts":  # only rows already found changed are compared: nothing for the rest
            self._moved = [
                (row[key], existing[row[key]][_REGION], row["region"])
                for row in changed
                if existing[row[key]][_REGION] != row["region"]
            ]
        if changed:  # one statement for the batch (an executemany), not one built per row
            self._conn.execute(
                table.update()
                .where(table.c[key] == bindparam(f"b_{key}"))
                .values({k: bindparam(f"b_{k}") for k in keys if k != key}),
                [{f"b_{k}": row[k] for k in keys} for row in changed],
            )
        if what == "accounts" and changed:  # their purchases carry the fields rules read (ADR 12)
            self._conn.execute(
                purchases.update()
                .where(purchases.c.account_id == bindparam("a"))
                .values(account_region=bindparam("r"), account_registered_at_us=bindparam("t")),
                [{"a": r["account_id"], "r": r["region"], "t": r["registered_at_us"]} for r in changed],
            )
        return len(new_rows) + len(changed), unchanged

    def _with_account_fields(self, batch: Sequence[PurchaseRecord]) -> list[tuple[Any, ...]]:
        """Each purchase with its account's region and registration, as stored (ADR 12).

        One lookup per distinct account of the batch, in key order (cache-friendly probes); a
        purchase naming no imported account is refused, naming both.
        """
        wanted = sorted({row[1] for row in batch})
        raw = self._conn.connection.driver_connection  # plain tuples: a Result costs more than the probe
        assert raw is not None, "an open connection has a driver connection"
        if self._conn.dialect.name == "postgresql":
            found = raw.execute(f"{_ACCOUNT_FIELDS} WHERE account_id = ANY(%s)", (wanted,)).fetchall()
        else:
            found = []
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                found += raw.execute(f"{_ACCOUNT_FIELDS} WHERE account_id IN ({marks})", chunk).fetchall()
        fields = {account_id: (region, at) for account_id, region, at in found}
        if len(fields) < len(wanted):
            missing = next(row for row in batch if row[1] not in fields)
            _unknown_account(missing[0], missing[1])
        return [(*row, *fields[row[1]]) for row in batch]
