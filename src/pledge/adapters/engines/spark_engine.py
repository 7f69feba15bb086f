"""Spark SQL through PySpark (ADR 29): ``--spark-master`` (default ``local[2]``), Spark ≥ 4.0.

The files are read by Spark (Parquet typed, CSV as text) into the same relation shape as the
DuckDB engine's; the window and rule are the compiler's ``spark`` dialect (``COLLATE
UTF8_BINARY``: purchase ids compare as bytes, as everywhere else). The session runs in UTC and
ANSI mode, so a malformed instant or price fails the query instead of becoming NULL. The ordered
candidates are written by Spark as Parquet part files (in the set's directory, or a temporary one
for a dry run) and read back by Arrow in partition order: one Parquet file with the engine-neutral
checksum (``candidate_files``). On a cluster, that directory must be storage the driver and the
executors share.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from pledge.adapters.engines.candidate_files import (
    DATA_FILE,
    FILE_COLUMNS,
    SCHEMA,
    OrderCheck,
    RowDigest,
    file_batches,
)
from pledge.adapters.engines.sql_engine import ORDER, SqlEngine
from pledge.domain.errors import InputError
from pledge.domain.issuance import Candidate
from pledge.domain.money import CURRENCY_EXPONENTS
from pledge.usecases.engine_ports import WrittenSet
from pledge.usecases.scan_ports import Selection


def _instant(column: str, type_: str) -> str:
    if type_.startswith("timestamp"):
        return f"unix_micros({column})"
    return f"unix_micros(CAST({column} AS TIMESTAMP))"


def _minor(price: str, currency: str) -> str:
    exponents = " ".join(f"WHEN '{c}' THEN {10**e}" for c, e in sorted(CURRENCY_EXPONENTS.items()))
    return f"CAST(CAST({price} AS DECIMAL(38, 6)) * (CASE {currency} {exponents} END) AS BIGINT)"


class SparkEngine(SqlEngine):
    name = "spark"

    def __init__(self, purchases: Path, accounts: Path, master: str = "local[2]") -> None:
        for path in (purchases, accounts):
            if not path.is_file() and not path.is_dir():
                raise InputError(f"{path}: no such file", code="file_not_found", param=str(path))
        self._spark = (
            SparkSession.builder.master(master)
            .appName("pledge-select")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.ansi.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        self._views(purchases, accounts)

    def version(self) -> str:
        return str(self._spark.version)

    def close(self) -> None:
        """The session is left for the process (tests share one); it ends with the process."""

    def _read(self, path: Path, view: str) -> dict[str, str]:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            frame = self._spark.read.parquet(str(path))
        elif suffix == ".csv":
            # RFC 4180, as Python's csv module and DuckDB read it: a quote inside a quoted field is
            # doubled. Spark's default escape is a backslash, which would read `"mi ""1"""` as
            # something other than `mi "1"` and let a rule on the SKU disagree with the import.
            frame = self._spark.read.option("header", True).option("escape", '"').csv(str(path))
        else:
            raise InputError(f"{path}: a .parquet or .csv file is expected", code="unknown_format")
        frame.createOrReplaceTempView(view)
        return dict(frame.dtypes)

    def _views(self, purchases: Path, accounts: Path) -> None:
        p_types, a_types = self._read(purchases, "pledge_src_p"), self._read(accounts, "pledge_src_a")
        serial, channel = (
            f"COALESCE(CAST(s.{n} AS STRING), '')" if n in p_types else "''" for n in ("serial", "channel")
        )
        self._spark.sql(
            "CREATE OR REPLACE TEMPORARY VIEW accounts AS SELECT CAST(account_id AS STRING) AS account_id, "
            "CAST(region AS STRING) AS region, "
            f"{_instant('registered_at', a_types.get('registered_at', ''))} AS registered_at_us "
            "FROM pledge_src_a"
        )
        self._spark.sql(
            "CREATE OR REPLACE TEMPORARY VIEW purchases AS SELECT CAST(s.purchase_id AS STRING) AS "
            "purchase_id, CAST(s.account_id AS STRING) AS account_id, CAST(s.sku AS STRING) AS sku, "
            f"{serial} AS serial, {_instant('s.purchased_at', p_types.get('purchased_at', ''))} AS "
            f"purchased_at_us, {_minor('s.price', 's.currency')} AS price_minor, "
            "CAST(s.currency AS STRING) AS currency, CAST(s.status AS STRING) AS status, "
            f"{channel} AS channel, a.region AS account_region, a.registered_at_us AS "
            "account_registered_at_us FROM pledge_src_p s LEFT JOIN accounts a "
            "ON a.account_id = CAST(s.account_id AS STRING)"
        )
        missing = self._rows(
            "SELECT purchase_id, account_id FROM purchases WHERE account_region IS NULL LIMIT 1"
        )
        if missing:
            raise InputError(
                f"purchases: purchase_id {missing[0][0]}, account_id: {missing[0][1]!r} is not in the "
                "accounts file",
                code="unknown_account",
                param=f"purchase_id {missing[0][0]}: account_id",
            )

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._spark.sql(sql).collect()]

    def _ordered(self, sql: str, scratch: Path) -> Iterator[pa.RecordBatch]:
        """The query's rows in its order, a batch at a time: Spark writes them as Parquet part files
        under ``scratch`` (removed afterwards), which are read back in partition order. No row
        crosses the Py4J bridge: at millions of candidates that bridge is slow and fails."""
        parts = scratch / "parts"
        try:
            self._spark.sql(sql).write.mode("errorifexists").parquet(str(parts))
            order = OrderCheck()
            # An ORDER BY is range-partitioned: part-00000 holds the first rows, and so on.
            for name in sorted(path.name for path in parts.glob("part-*.parquet")):
                for batch in file_batches(str(parts / name)):
                    wrong = order.first_wrong(batch)
                    if wrong is not None:  # Spark broke the order it promised: refuse, never reorder
                        raise InputError(f"spark: {name} is out of the query's order at row {wrong}")
                    yield batch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _query(self, selection: Selection) -> str:
        columns = ", ".join(f"p.{c}" for c in FILE_COLUMNS)
        return f"SELECT {columns} FROM purchases p WHERE {self.rule_sql(selection)} {ORDER}"

    def candidates(self, selection: Selection) -> Iterator[Sequence[Candidate]]:
        scratch = Path(tempfile.mkdtemp(prefix="pledge-spark-"))
        for batch in self._ordered(self._query(selection), scratch):
            at, purchase, account, serial, price, currency = (c.to_pylist() for c in batch.columns)
            yield list(map(Candidate, purchase, account, serial, at, price, currency))

    def write_candidates(self, selection: Selection, out_dir: str) -> WrittenSet:
        digest = RowDigest()
        with pq.ParquetWriter(Path(out_dir) / DATA_FILE, SCHEMA, compression="zstd") as writer:
            for batch in self._ordered(self._query(selection), Path(out_dir) / ".spark-parts"):
                digest.add(batch)
                writer.write_batch(batch)
        return WrittenSet(digest.rows, digest.hexdigest(), [DATA_FILE])
