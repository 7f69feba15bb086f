"""One-query floors of `campaign select` on DuckDB and on Spark (a worker: one JSON line on stdout).

The floor is what an engine needs at the least to produce the same candidate set: the process
starts, opens the same files through Pledge's own views of them (the same types and the same join
of each purchase with its account), and runs one query that writes the ordered candidates as
Parquet. What `campaign select` adds above it is Pledge's own work: the approved terms read from the
database, the rows streamed through Python for the engine-neutral checksum, the manifest.

    python -m benchmarks.engine_floors duckdb --purchases P --accounts A --manifest M --out DIR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.common import emit
from pledge.adapters.engines.candidate_files import FILE_COLUMNS
from pledge.adapters.engines.sql_engine import ORDER


def _query(manifest: Path) -> str:
    rule_sql = json.loads(manifest.read_text(encoding="utf-8"))["rule_sql"]
    columns = ", ".join(f"p.{c}" for c in FILE_COLUMNS)
    return f"SELECT {columns} FROM purchases p WHERE {rule_sql} {ORDER}"


def duckdb_floor(purchases: Path, accounts: Path, manifest: Path, out: Path) -> dict[str, Any]:
    from pledge.adapters.engines.duckdb_engine import DuckDBEngine  # noqa: PLC0415 - timed from here

    started = time.perf_counter()
    engine = DuckDBEngine(purchases, accounts)
    con = engine._con  # the engine's own connection and views: the floor reads what Pledge reads
    opened = time.perf_counter()
    target = out / "candidates.parquet"
    con.execute(f"COPY ({_query(manifest)}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    done = time.perf_counter()
    found = con.execute(f"SELECT COUNT(*) FROM read_parquet('{target}')").fetchone()
    engine.close()
    return {"rows": int(found[0]) if found else 0, "open_s": opened - started, "query_s": done - opened}


def spark_floor(purchases: Path, accounts: Path, manifest: Path, out: Path, master: str) -> dict[str, Any]:
    from pledge.adapters.engines.spark_engine import SparkEngine  # noqa: PLC0415 - timed from here

    started = time.perf_counter()
    engine = SparkEngine(purchases, accounts, master)
    spark = engine._spark  # the engine's own session and views
    opened = time.perf_counter()
    spark.sql(_query(manifest)).write.mode("overwrite").parquet(str(out / "candidates"))
    done = time.perf_counter()
    rows = spark.read.parquet(str(out / "candidates")).count()
    return {"rows": int(rows), "open_s": opened - started, "query_s": done - opened}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_floors")
    parser.add_argument("engine", choices=("duckdb", "spark"))
    parser.add_argument("--purchases", type=Path, required=True)
    parser.add_argument("--accounts", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True, help="the set's manifest: its rule SQL")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.engine == "duckdb":
        emit(duckdb_floor(args.purchases, args.accounts, args.manifest, args.out))
    else:
        emit(spark_floor(args.purchases, args.accounts, args.manifest, args.out, args.spark_master))


if __name__ == "__main__":
    main()
