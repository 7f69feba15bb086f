"""Accounts and purchases: all-or-nothing bulk import and the push-down scans.

Every scan evaluates the campaign's conditions inside the database (one pass,
per-condition flags), never by pulling rows into Python: the rule compiler
turns each condition into SQL whose meaning is tested against the in-process
CEL evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import starmap
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from pledge.adapters.sqlalchemy.benefit_sql import amount_sql, exceeds_price_sql, granted_sql
from pledge.adapters.sqlalchemy.candidate_rows import prepare_rows
from pledge.adapters.sqlalchemy.candidates import SqlCandidates
from pledge.adapters.sqlalchemy.customers import find_accounts
from pledge.adapters.sqlalchemy.database import lock_if_empty, stream_rows
from pledge.adapters.sqlalchemy.purchase_imports import (
    ACCOUNT_KEYS,
    PURCHASE_KEYS,
    PurchaseImports,
    stored_column,
)
from pledge.adapters.sqlalchemy.purchase_load import drop_stage
from pledge.adapters.sqlalchemy.rule_sql import PLEDGE_COLUMNS, compile_condition_sql
from pledge.adapters.sqlalchemy.tables import accounts, purchases
from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CashbackTerms
from pledge.domain.issuance import Candidate
from pledge.domain.near_miss import only_failure
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.scan_ports import NearMiss, ScanCounts, Selection

STREAM = {"stream_results": True, "yield_per": 10_000}  # server-side cursor on PostgreSQL
# One account and its purchases, for every eligibility check: built once, not per call.
_ACCOUNT_BY_ID = select(*(stored_column(accounts, k) for k in ACCOUNT_KEYS)).where(
    accounts.c.account_id == bindparam("a")
)
_PURCHASES_OF_ACCOUNT = (
    select(*(purchases.c[k] for k in PURCHASE_KEYS))
    .where(purchases.c.account_id == bindparam("a"))
    .order_by(purchases.c.purchased_at_us, purchases.c.purchase_id)
)
_MASK_BITS = 62  # failed-condition bits per BIGINT mask column
_SCAN_SHARE = 0.2  # a window over more of the history than this is read by a full scan
# An import at least this large, and at least as large as the table, is a bulk load: the secondary
# indexes are dropped first and rebuilt once at the end (a sort), instead of being updated per row.
BULK_LOAD_ROWS = 50_000

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


class SqlPurchases(PurchaseImports):
    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._analyze = False

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
        if what == "purchases":
            drop_stage(self._conn)
        if dropped is not None:
            if postgres:
                self._conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            for index in dropped:
                index.create(self._conn)
        if postgres and self._analyze:  # fresh statistics, or the planner walks an index over most rows
            self._conn.exec_driver_sql(f"ANALYZE {what}")

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
        rows = f"SELECT {columns}, CASE WHEN p.currency <> :currency THEN 1 ELSE 0 END AS other {_FROM}"
        names = condition_names(selection)
        if sqlite and len(masks) == 1:
            return self._scan_flat(rows, params, names)
        sql = f"SELECT {keys}, other, COUNT(*) FROM ({rows}) s GROUP BY {keys}, other"
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

    def _scan_flat(self, rows: str, params: dict[str, Any], names: list[str]) -> ScanCounts:
        """SQLite, one mask column: every count as its own sum over the masks, in one pass.

        SQLite has no hash aggregate: grouping by the mask sorts every row (at 18.46 M purchases
        about a fifth more CPU than these sums). ``LIMIT -1`` keeps the subquery from being
        flattened into the sums, so each row's mask is computed once, not once per sum."""
        n = len(names)
        sums = [f"SUM(m0 >> {bit} & 1)" for bit in range(n)] + [f"SUM(m0 = {1 << bit})" for bit in range(n)]
        sql = (
            f"SELECT COUNT(*), SUM(m0 = 0), SUM(m0 = 0 AND other), {', '.join(sums)} FROM ({rows} LIMIT -1) s"
        )
        evaluated, qualifying, other, *per_bit = (
            int(v or 0) for v in self._conn.execute(text(sql), params).one()
        )
        counts = ScanCounts()
        counts.evaluated, counts.qualifying, counts.other_currency = evaluated, qualifying, other
        counts.rejections = dict(zip(names, per_bit[:n], strict=True))
        counts.near_misses_by_condition = dict(zip(names, per_bit[n:], strict=True))
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
        amount, granted = amount_sql(terms.benefit, dialect), granted_sql(terms.benefit, dialect)
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
        overpaid = exceeds_price_sql(benefit, self._conn.dialect.name, "p.price_minor", "p.purchased_at_us")
        where = f"{where} AND {overpaid}"
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
        found = self._conn.execute(_ACCOUNT_BY_ID, {"a": account_id}).first()
        rows = self._conn.execute(_PURCHASES_OF_ACCOUNT, {"a": account_id})
        return (AccountRecord(*found) if found else None), [PurchaseRecord(*row) for row in rows]
