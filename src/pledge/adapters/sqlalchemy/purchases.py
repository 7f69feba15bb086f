"""Accounts and purchases: all-or-nothing bulk import and the push-down scans.

Every scan evaluates the campaign's conditions inside the database (one pass,
per-condition flags), never by pulling rows into Python: the rule compiler
turns each condition into SQL whose meaning is tested against the in-process
CEL evaluation.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from itertools import starmap
from operator import itemgetter
from typing import Any, NoReturn

from sqlalchemy import Connection, Index, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from pledge.adapters.sqlalchemy.benefit_sql import amount_sql, exceeds_price_sql, within_price_sql
from pledge.adapters.sqlalchemy.candidate_rows import prepare_rows
from pledge.adapters.sqlalchemy.candidates import SqlCandidates
from pledge.adapters.sqlalchemy.customers import find_accounts
from pledge.adapters.sqlalchemy.database import bulk_insert, lock_if_empty, stream_rows
from pledge.adapters.sqlalchemy.rule_sql import PLEDGE_COLUMNS, compile_condition_sql
from pledge.adapters.sqlalchemy.tables import accounts, purchases
from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InputError, InvariantViolation
from pledge.domain.issuance import Candidate
from pledge.domain.near_miss import only_failure
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.validation import column_of
from pledge.usecases.ports import NearMiss, ScanCounts, Selection

STREAM = {"stream_results": True, "yield_per": 10_000}  # server-side cursor on PostgreSQL
_IN_CHUNK = 500  # well under every engine's bind-parameter limit
_MASK_BITS = 62  # failed-condition bits per BIGINT mask column
_SCAN_SHARE = 0.2  # a window over more of the history than this is read by a full scan
# An import at least this large, and at least as large as the table, is a bulk load: the secondary
# indexes are dropped first and rebuilt once at the end (a sort), instead of being updated per row.
BULK_LOAD_ROWS = 50_000

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
_STORED_KEYS = (*_PURCHASE_KEYS, "account_region", "account_registered_at_us")  # ADR 12
_ACCOUNT_KEYS = ("account_id", "region", "registered_at_us", "email", "phone", "locale", "wechat_openid")
_REQUIRED_ACCOUNT_KEYS = _ACCOUNT_KEYS[:3]
_EMAIL, _PHONE, _LOCALE, _OPENID = (itemgetter(i) for i in range(3, 7))
_DEFAULT_LOCALE = AccountRecord("", "", 0).locale
_CONTACT_DEFAULTS = dict(zip(_ACCOUNT_KEYS[3:], AccountRecord("", "", 0)[3:], strict=True))
_required = itemgetter(0, 1, 2)


def _stored(table: Any, key: str) -> Any:
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
_FROM = "FROM purchases p"  # the account fields rules read are on the purchase: no join


def _tests(
    conn: Connection, selection: Selection, *, inline: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """SQL boolean tests, window first, then one per rule condition (all true = qualifies).

    ``inline`` writes literals into the text instead of bind parameters (for the driver's own
    cursor); the window bounds are integers from our own window type, safe to write in.
    """
    dialect = conn.dialect.name
    window = selection.window
    if inline:
        params: dict[str, Any] = {}
        tests = [
            f"(p.purchased_at_us >= {int(window.start_us)} AND p.purchased_at_us < {int(window.end_us)})"
        ]
    else:
        params = {"w_start": window.start_us, "w_end": window.end_us}
        tests = ["(p.purchased_at_us >= :w_start AND p.purchased_at_us < :w_end)"]
    for index, condition in enumerate(selection.conditions):
        sql, cond_params = compile_condition_sql(
            condition.node, dialect, PLEDGE_COLUMNS, prefix=f"c{index}_", inline=inline
        )
        params.update(cond_params)
        tests.append(f"({sql})")
    return tests, params


def _where_all(conn: Connection, selection: Selection, *, inline: bool = False) -> tuple[str, dict[str, Any]]:
    tests, params = _tests(conn, selection, inline=inline)
    return " AND ".join(tests), params


def _unknown_account(purchase_id: str, account_id: str) -> NoReturn:
    raise InputError(
        f"purchases: purchase_id {purchase_id}, account_id: {account_id!r} is not an imported account "
        "(import accounts first)",
        code="unknown_account",
        param=f"purchase_id {purchase_id}: account_id",
    )


class _NearMissReader:
    """Runs one near-miss query over growing slices ``[lo, hi)`` of a range, nearest first."""

    FIRST_SHARE = 1 / 4096  # the first slice, as a share of the history's time span
    INDEX_SHARE = 1 / 8  # past this share, one full scan costs less than reading by the index

    def __init__(
        self, conn: Connection, params: dict[str, Any], flags: list[str], span: tuple[int, int]
    ) -> None:
        self._conn, self._params, self._span = conn, params, span
        columns = "".join(f", {flag}" for flag in flags)
        outside = (
            "CASE WHEN p.purchased_at_us < :w_start THEN :w_start - p.purchased_at_us "
            "WHEN p.purchased_at_us >= :w_end THEN p.purchased_at_us - :w_end + 1 ELSE 0 END"
        )
        self._select = (
            f"SELECT p.purchase_id, p.account_id, p.purchased_at_us{columns}, {outside} AS outside_us"
        )

    def slices(self, where: str, order: str, start: int, stop: int, limit: int) -> list[Any]:
        rows: list[Any] = []
        history = max(self._span[1] - self._span[0], 1)
        width = max(int(history * self.FIRST_SHARE), 1)
        lo = start
        while lo < stop and len(rows) < limit:
            full_scan = (lo - start) + width > history * self.INDEX_SHARE
            hi = stop if full_scan else min(lo + width, stop)
            source = (
                "purchases p NOT INDEXED"
                if full_scan and self._conn.dialect.name == "sqlite"
                else "purchases p"
            )
            sql = (
                f"{self._select} FROM {source} "
                f"WHERE {where} ORDER BY {order}p.purchased_at_us, p.purchase_id LIMIT :need"
            )
            params = {**self._params, "lo": lo, "hi": hi, "need": limit - len(rows)}
            rows.extend(self._conn.execute(text(sql), params))
            lo, width = hi, width * 2
        return rows


def condition_names(selection: Selection) -> list[str]:
    return ["purchased", *(c.name for c in selection.conditions)]


class SqlPurchases:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._bulk: list[Index] | None = None  # indexes dropped by a bulk load, to rebuild
        self._analyze = False
        self._changed: list[str] = []  # ids the last add replaced (corrections re-check their grants)

    # -- loads ----------------------------------------------------------------
    def begin_load(self, what: str, expected_rows: int | None) -> None:
        """A large import into an empty ``purchases`` or ``accounts`` table is a bulk load (ADR 10).

        Only into an empty table: a re-import or a growing export then takes the ordinary path
        (indexes kept, collisions compared row by row) and never holds the table for a rebuild.
        For accounts these are the contact indexes (support's search): even empty, they cost a
        check per inserted row, so a file without contacts loads as fast as before they existed.
        """
        self._bulk, self._analyze = None, expected_rows is not None and expected_rows >= BULK_LOAD_ROWS
        table = {"purchases": purchases, "accounts": accounts}.get(what)
        if table is None or not self._analyze or not lock_if_empty(self._conn, what):
            return
        self._bulk = sorted(table.indexes, key=lambda index: str(index.name))
        for index in self._bulk:  # inside the import's transaction: a failed load restores them
            index.drop(self._conn, checkfirst=True)

    def finish_load(self, what: str) -> None:
        dropped, self._bulk = self._bulk, None
        postgres = self._conn.dialect.name == "postgresql"
        if dropped is not None:
            if not postgres and what == "purchases":
                self._fill_account_fields()
            if postgres:
                self._conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            for index in dropped:
                index.create(self._conn)
        if postgres and self._analyze:  # fresh statistics, or the planner walks an index over most rows
            self._conn.exec_driver_sql(f"ANALYZE {what}")

    # -- import -------------------------------------------------------------
    def add_accounts(self, batch: Sequence[AccountRecord], *, update: bool) -> tuple[int, int]:
        fast = None
        if _without_contacts(batch):
            # No contacts in the batch (a file without those columns): new rows get the columns'
            # defaults, the same values, and three columns keep such an import as fast as before.
            fast = (_REQUIRED_ACCOUNT_KEYS, _plain_rows(batch))
        return self._add(accounts, "account_id", _ACCOUNT_KEYS, batch, update, "accounts", fast)

    def add_purchases(self, batch: Sequence[PurchaseRecord], *, update: bool) -> tuple[int, int]:
        if self._bulk is not None and self._conn.dialect.name == "sqlite":
            # Their account fields are filled, and every account checked, by finish_load.
            return self._add(purchases, "purchase_id", _PURCHASE_KEYS, batch, update, "purchases")
        rows = self._with_account_fields(batch)  # checks every account exists
        return self._add(purchases, "purchase_id", _STORED_KEYS, rows, update, "purchases")

    def changed(self) -> list[str]:
        return self._changed

    def _fill_account_fields(self) -> None:
        """SQLite, end of a bulk load into the empty table: every purchase gets its account's fields
        in one join (1.3 s per million, against 3.4 s probing per batch), and one that names no
        imported account is refused."""
        filled = self._conn.exec_driver_sql(
            "UPDATE purchases SET account_region = a.region, account_registered_at_us = a.registered_at_us "
            "FROM accounts a WHERE a.account_id = purchases.account_id"
        ).rowcount
        # The table was empty and ours alone when the load began: every stored row is the load's.
        stored = self._conn.exec_driver_sql("SELECT COUNT(*) FROM purchases").scalar_one()
        if filled == stored:
            return
        missing = self._conn.exec_driver_sql(
            "SELECT p.purchase_id, p.account_id FROM purchases p WHERE NOT EXISTS "
            "(SELECT 1 FROM accounts a WHERE a.account_id = p.account_id) LIMIT 1"
        ).first()
        if missing is None:
            raise InvariantViolation(f"purchases: filled the account fields of {filled} of {stored} rows")
        _unknown_account(missing[0], missing[1])

    def _add(
        self,
        table: Any,
        key: str,
        keys: tuple[str, ...],
        batch: Sequence[tuple[Any, ...]],
        update: bool,
        what: str,
        fast: tuple[tuple[str, ...], Sequence[tuple[Any, ...]]] | None = None,
    ) -> tuple[int, int]:
        """Insert a batch; returns (imported, unchanged). Raises InputError naming the offending id.

        ``fast`` is the same batch as fewer columns (the others taking their defaults) for the
        fresh-batch insert; collisions are always compared on every column of ``keys``.
        """
        self._changed = []
        if not batch:
            return 0, 0
        # Fast path: a fresh batch goes in as tuples (COPY / executemany) inside a savepoint; only a
        # batch that collides with stored rows pays for the row-by-row comparison.
        savepoint = self._conn.begin_nested()
        try:
            bulk_insert(self._conn, table.name, *(fast or (keys, batch)))
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
            stmt = select(*(_stored(table, k) for k in keys)).where(table.c[key].in_(chunk))
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
        for row in changed:
            self._conn.execute(table.update().where(table.c[key] == row[key]).values(**row))
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

    # -- scans ----------------------------------------------------------------
    def scan(self, selection: Selection) -> ScanCounts:
        """One pass: each row's failed conditions as a bit mask, counted per distinct mask.

        At most 2^n groups come back, and every count (rejections per condition, near misses,
        qualifying) folds out of them in Python: cheaper than n aggregates over every row.
        """
        tests, params = _tests(self._conn, selection)
        params["currency"] = selection.currency
        sqlite = self._conn.dialect.name == "sqlite"
        masks = []
        for first in range(0, len(tests), _MASK_BITS):
            part = tests[first : first + _MASK_BITS]
            if sqlite:  # a comparison is 0 or 1 in SQLite, and no rule column is ever NULL
                masks.append(" | ".join(f"((NOT ({t})) << {bit})" for bit, t in enumerate(part)))
            else:
                masks.append(
                    " + ".join(f"(CASE WHEN {t} THEN 0 ELSE {1 << b} END)" for b, t in enumerate(part))
                )
        columns = ", ".join(f"{mask} AS m{i}" for i, mask in enumerate(masks))
        keys = ", ".join(f"m{i}" for i in range(len(masks)))
        sql = (
            f"SELECT {keys}, other, COUNT(*) FROM (SELECT {columns}, "
            f"CASE WHEN p.currency <> :currency THEN 1 ELSE 0 END AS other {_FROM}) s GROUP BY {keys}, other"
        )
        names = condition_names(selection)
        counts = ScanCounts()
        rejections, near = [0] * len(tests), [0] * len(tests)
        for row in self._conn.execute(text(sql), params):
            *parts, other, n = (int(v) for v in row)
            failed = [
                part_no * _MASK_BITS + bit
                for part_no, mask in enumerate(parts)
                for bit in range(_MASK_BITS)
                if mask >> bit & 1
            ]
            counts.evaluated += n
            for index in failed:
                rejections[index] += n
            if not failed:
                counts.qualifying += n
                counts.other_currency += n * other
            elif (only := only_failure(failed)) is not None:
                near[only] += n
        counts.rejections = {names[i]: rejections[i] for i in range(len(tests))}
        counts.near_misses_by_condition = {names[i]: near[i] for i in range(len(tests))}
        return counts

    def count_qualifying(self, selection: Selection) -> int:
        """How many purchases qualify: the window and the rule pushed down as one ``COUNT(*)``."""
        where, params = _where_all(self._conn, selection)
        sql = f"SELECT COUNT(*) FROM {self._source(selection)} WHERE {where}"
        return int(self._conn.execute(text(sql), params).scalar_one())

    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]:
        """The closest misses first: how far outside the window (0 for other conditions), then time.

        Read through the time index in growing slices, nearest first, so that the usual case (many
        near misses) stops after a few hundred rows instead of scanning the history; once the
        slices have covered an eighth of the history, one full scan finishes the list.
        """
        span = self._time_span()
        if limit <= 0 or span is None:
            return []
        tests, params = _tests(self._conn, selection)
        names = condition_names(selection)
        flags = [f"CASE WHEN {test} THEN 0 ELSE 1 END" for test in tests[1:]]
        reader = _NearMissReader(self._conn, params, flags, span)
        found: list[NearMiss] = []
        if flags:  # inside the window, failing exactly one rule condition, in time order
            where = f"p.purchased_at_us >= :lo AND p.purchased_at_us < :hi AND ({' + '.join(flags)}) = 1"
            for row in reader.slices(where, "", selection.window.start_us, selection.window.end_us, limit):
                failed = next(i for i, flag in enumerate(row[3:-1], start=1) if flag)
                found.append(NearMiss(row[0], row[1], names[failed], int(row[2])))
        need = limit - len(found)
        if need > 0:  # passing every rule condition, outside the window, nearest first
            rule = f"({' + '.join(flags)}) = 0 AND " if flags else ""
            where = (
                f"{rule}((p.purchased_at_us >= :w_end - 1 + :lo AND p.purchased_at_us < :w_end - 1 + :hi) "
                "OR (p.purchased_at_us > :w_start - :hi AND p.purchased_at_us <= :w_start - :lo))"
            )
            farthest = max(selection.window.start_us - span[0], span[1] - selection.window.end_us + 1)
            for row in reader.slices(where, "outside_us, ", 1, farthest + 1, need):
                found.append(NearMiss(row[0], row[1], names[0], int(row[2])))
        return found

    def _time_span(self) -> tuple[int, int] | None:
        """The first and last purchase instants (two index lookups), or None for no purchases."""
        low, high = self._conn.execute(
            text("SELECT MIN(purchased_at_us), MAX(purchased_at_us) FROM purchases")
        ).one()
        return None if low is None else (int(low), int(high))

    def _source(self, selection: Selection) -> str:
        if self._conn.dialect.name == "sqlite" and self._window_share(selection) > _SCAN_SHARE:
            # A wide window: one scan (and a sort) beats walking the time index, which costs a random
            # table read per row (measured 2× faster at 1 M rows, 10× for a count). PostgreSQL plans
            # this itself, from the statistics every large import leaves.
            return "purchases p NOT INDEXED"
        return "purchases p"

    def _candidates_sql(self, selection: Selection) -> str:
        where, _ = _where_all(self._conn, selection, inline=True)
        return (
            "SELECT p.purchase_id, p.account_id, p.serial, p.purchased_at_us, p.price_minor, p.currency "
            f"FROM {self._source(selection)} WHERE {where}"
        )

    def candidates(self, selection: Selection) -> Iterator[Candidate]:
        self._sort_memory()
        sql = f"{self._candidates_sql(selection)} ORDER BY p.purchased_at_us, p.purchase_id"
        return starmap(Candidate, stream_rows(self._conn, sql))

    def prepare(self, selection: Selection, terms: CashbackTerms, *, count_issued: bool) -> SqlCandidates:
        return SqlCandidates(self._conn, self._candidates_sql(selection), terms, count_issued=count_issued)

    def prepare_rows(
        self, batches: Iterable[Sequence[Candidate]], terms: CashbackTerms, *, count_issued: bool
    ) -> SqlCandidates:
        return prepare_rows(self._conn, batches, terms, count_issued=count_issued)

    def amount_bound(self, selection: Selection, terms: CashbackTerms) -> int:
        dialect = self._conn.dialect.name
        amount, granted = amount_sql(terms.benefit, dialect), within_price_sql(terms.benefit, dialect)
        total = self._conn.execute(
            text(
                f"SELECT COALESCE(SUM(CASE WHEN {granted} THEN {amount} ELSE 0 END), 0) "
                f"FROM ({self._candidates_sql(selection)}) c"
            )
        ).scalar_one()
        return int(total)

    def _sort_memory(self) -> None:
        if self._conn.dialect.name == "postgresql":
            # Sorts and groupings over millions of purchases: in memory, or in far fewer runs on
            # disk, rather than in the default 4 MB. The server's memory, for this transaction only.
            self._conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")

    def _window_share(self, selection: Selection) -> float:
        """The share of the purchase history's time span the window covers (0..1), from the index ends."""
        span = self._time_span()
        if span is None or span[1] <= span[0]:
            return 1.0
        low, high = span
        start, end = max(selection.window.start_us, low), min(selection.window.end_us, high + 1)
        return float(max(end - start, 0) / (high + 1 - low))

    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]:
        where, params = _where_all(self._conn, selection)
        where = f"{where} AND {exceeds_price_sql(benefit, self._conn.dialect.name, 'p.price_minor')}"
        count = self._conn.execute(text(f"SELECT COUNT(*) {_FROM} WHERE {where}"), params).scalar_one()
        ids = self._conn.scalars(
            text(
                f"SELECT p.purchase_id {_FROM} WHERE {where} "
                "ORDER BY p.purchased_at_us, p.purchase_id LIMIT :limit"
            ),
            {**params, "limit": limit},
        ).all()
        return int(count), list(ids)

    def find_accounts(self, field: str, values: Sequence[str], limit: int) -> list[str]:
        return find_accounts(self._conn, field, values, limit)

    def of_account(self, account_id: str) -> tuple[AccountRecord | None, list[PurchaseRecord]]:
        found = self._conn.execute(
            select(*(_stored(accounts, k) for k in _ACCOUNT_KEYS)).where(accounts.c.account_id == account_id)
        ).first()
        rows = self._conn.execute(
            select(*(purchases.c[k] for k in _PURCHASE_KEYS))
            .where(purchases.c.account_id == bindparam("a"))
            .order_by(purchases.c.purchased_at_us, purchases.c.purchase_id),
            {"a": account_id},
        )
        return (AccountRecord(*found) if found else None), [PurchaseRecord(*row) for row in rows]
