"""DuckDB in process over Parquet or CSV files of accounts and purchases (ADR 29).

The files are those ``pledge import`` reads (same columns). A view gives them the shape of
Pledge's own ``purchases`` table (instants in microseconds, prices in minor units, the account
fields a rule reads beside each purchase), so the window and rule are the very SQL the
rule compiler emits for the ``duckdb`` dialect, and the scans mirror ``SqlPurchases``. Strings
compare as bytes in DuckDB: the order is (purchase instant, purchase id in byte order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import starmap
from pathlib import Path
from typing import Any

import duckdb

from pledge.adapters.engines.candidate_files import DATA_FILE, FILE_COLUMNS, digest_file
from pledge.adapters.engines.sql_engine import SqlEngine
from pledge.domain.errors import InputError
from pledge.domain.issuance import Candidate
from pledge.domain.money import CURRENCY_EXPONENTS
from pledge.usecases.engine_ports import WrittenSet
from pledge.usecases.scan_ports import Selection

BATCH_ROWS = 10_000
_CANDIDATE = "p.purchase_id, p.account_id, p.serial, p.purchased_at_us, p.price_minor, p.currency"
_ORDER = "ORDER BY p.purchased_at_us, p.purchase_id"


def _reader(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return f"read_parquet('{_quoted(path)}')"
    if suffix == ".csv":
        return f"read_csv('{_quoted(path)}', header = true, all_varchar = true)"
    raise InputError(f"{path}: a .parquet or .csv file is expected", code="unknown_format", param=str(path))


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _instant(column: str, type_: str) -> str:
    if type_.startswith("TIMESTAMP"):
        return f"epoch_us({column})"
    return f"epoch_us(CAST({column} AS TIMESTAMPTZ))"


def _minor(price: str, currency: str) -> str:
    exponents = " ".join(f"WHEN '{c}' THEN {10**e}" for c, e in sorted(CURRENCY_EXPONENTS.items()))
    return f"CAST(CAST({price} AS DECIMAL(38, 6)) * (CASE {currency} {exponents} END) AS BIGINT)"


class DuckDBEngine(SqlEngine):
    name = "duckdb"

    def __init__(self, purchases: Path, accounts: Path) -> None:
        for path in (purchases, accounts):
            if not path.is_file():
                raise InputError(f"{path}: no such file", code="file_not_found", param=str(path))
        self._con = duckdb.connect(":memory:", config={"preserve_insertion_order": True})
        try:
            self._views(purchases, accounts)
        except duckdb.Error as exc:
            raise InputError(f"reading {purchases} and {accounts}: {exc}", code="unreadable_file") from None

    def version(self) -> str:
        return str(duckdb.__version__)

    def close(self) -> None:
        self._con.close()

    def _types(self, source: str) -> dict[str, str]:
        return {
            row[0]: str(row[1]) for row in self._con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        }

    def _views(self, purchases: Path, accounts: Path) -> None:
        p_src, a_src = _reader(purchases), _reader(accounts)
        p_types, a_types = self._types(p_src), self._types(a_src)
        optional = {name: f"COALESCE(CAST(s.{name} AS VARCHAR), '')" for name in ("serial", "channel")}
        serial, channel = (optional[n] if n in p_types else "''" for n in ("serial", "channel"))
        self._con.execute(
            f"CREATE VIEW accounts AS SELECT CAST(account_id AS VARCHAR) AS account_id, "
            f"CAST(region AS VARCHAR) AS region, "
            f"{_instant('registered_at', a_types.get('registered_at', ''))} AS registered_at_us FROM {a_src}"
        )
        self._con.execute(
            "CREATE VIEW purchases AS SELECT CAST(s.purchase_id AS VARCHAR) AS purchase_id, "
            "CAST(s.account_id AS VARCHAR) AS account_id, CAST(s.sku AS VARCHAR) AS sku, "
            f"{serial} AS serial, {_instant('s.purchased_at', p_types.get('purchased_at', ''))} "
            f"AS purchased_at_us, {_minor('s.price', 's.currency')} AS price_minor, "
            "CAST(s.currency AS VARCHAR) AS currency, CAST(s.status AS VARCHAR) AS status, "
            f"{channel} AS channel, a.region AS account_region, "
            f"a.registered_at_us AS account_registered_at_us FROM {p_src} s "
            "LEFT JOIN accounts a ON a.account_id = CAST(s.account_id AS VARCHAR)"
        )
        missing = self._con.execute(
            "SELECT purchase_id, account_id FROM purchases WHERE account_region IS NULL LIMIT 1"
        ).fetchone()
        if missing is not None:
            raise InputError(
                f"purchases: purchase_id {missing[0]}, account_id: {missing[1]!r} is not in the "
                "accounts file",
                code="unknown_account",
                param=f"purchase_id {missing[0]}: account_id",
            )

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            raise InputError(f"the purchase files could not be read as purchases: {exc}") from None

    # -- candidates -------------------------------------------------------------
    def candidates(self, selection: Selection) -> Iterator[Sequence[Candidate]]:
        sql = f"SELECT {_CANDIDATE} FROM purchases p WHERE {self.rule_sql(selection)} {_ORDER}"
        try:
            cursor = self._con.cursor()
            cursor.execute(sql)
            while batch := cursor.fetchmany(BATCH_ROWS):
                yield list(starmap(Candidate, batch))
        except duckdb.Error as exc:
            raise InputError(f"the purchase files could not be read as purchases: {exc}") from None

    def write_candidates(self, selection: Selection, out_dir: str) -> WrittenSet:
        target = Path(out_dir) / DATA_FILE
        columns = ", ".join(f"p.{c}" for c in FILE_COLUMNS)
        sql = f"SELECT {columns} FROM purchases p WHERE {self.rule_sql(selection)} {_ORDER}"
        try:
            self._con.execute(f"COPY ({sql}) TO '{_quoted(target)}' (FORMAT parquet, COMPRESSION zstd)")
        except duckdb.Error as exc:
            raise InputError(f"the purchase files could not be read as purchases: {exc}") from None
        rows, checksum = digest_file(str(target))
        return WrittenSet(rows, checksum, [DATA_FILE])
