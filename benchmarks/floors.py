"""Floors: the same work done by the database alone, with no engine in between.

``python -m benchmarks.floors import|count|bulk ...`` prints one JSON document.

- ``import``: the purchases file read with pyarrow and converted column-wise to
  the stored form (epoch µs, minor units), then inserted as Python tuples into a
  bare table of the same columns: one ``executemany`` per batch in one
  transaction on SQLite, one ``COPY ... FROM STDIN`` (``write_row``) on
  PostgreSQL. Reading and inserting are timed apart. ``--indexes before|after``
  adds Pledge's primary key and indexes (diagnostics: maintained during the
  load, or built after it).
- ``count``: one hand-written ``SELECT COUNT(*) ... WHERE <the founders' rule>``
  on Pledge's own tables, as written and as a forced full scan (the faster is the floor).
- ``bulk``: the rows issuance writes (the grants, one ledger posting per 10,000),
  built in memory a chunk at a time (off the clock), inserted into bare tables
  of the same columns in one transaction.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from benchmarks.common import emit, is_sqlite, libpq_url, median, sqlite_connect, sqlite_file

BATCH = 100_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PURCHASE_COLUMNS = _words(
    "purchase_id account_id sku serial purchased_at_us price_minor currency status channel"
)
GRANT_COLUMNS = _words(
    "grant_id campaign_id terms_version account_id purchase_id serial amount_minor currency state "
    "issued_at_us expires_at_us posting_id"
)
LEDGER_COLUMNS = _words(
    "seq transfer_id debit_account credit_account asset amount kind ref at_us prev_hash hash"
)
# VARCHAR lengths as in Pledge's tables; every other column is a BIGINT (terms_version an INTEGER).
_TYPES = {
    name: int(length)
    for name, _, length in (
        item.partition(":")
        for item in _words(
            "purchase_id:128 account_id:128 sku:128 serial:128 currency:3 status:16 channel:64 grant_id:40 "
            "campaign_id:64 state:16 posting_id:80 transfer_id:80 debit_account:200 credit_account:200 "
            "asset:8 kind:32 ref:200 prev_hash:64 hash:64"
        )
    )
}
# Pledge's keys and indexes on the same columns (see adapters/sqlalchemy/tables.py).
_INDEXES = {
    "purchases": ("PRIMARY KEY (purchase_id)", "(purchased_at_us, purchase_id)", "(account_id)"),
    "grants": (
        "PRIMARY KEY (grant_id)",
        "(account_id, campaign_id)",
        "(state, expires_at_us)",
        "(campaign_id, posting_id)",
    ),
    "ledger": ("PRIMARY KEY (seq)", "UNIQUE (transfer_id)"),
}
_EXTRA: dict[str, tuple[str, ...]] = {}
# Pledge books issuance with one ledger posting per chunk of this many grants (usecases/issue.py).
POSTING_CHUNK = 10_000

# The founders' rule, by hand: window, then the four conditions of founders-refund.yaml, on the
# purchases table as Pledge stores it (the account's region is on each purchase, ADR 12).
COUNT_SQL = (
    "SELECT COUNT(*) FROM purchases p "
    "WHERE p.purchased_at_us >= {start} AND p.purchased_at_us < {end} AND p.sku = 'mi-1' "
    "AND p.account_region = 'CN' AND p.status = 'completed' AND p.currency = 'CNY'"
)


def _column_type(name: str, postgres: bool) -> str:
    if name in _TYPES:
        return f'VARCHAR({_TYPES[name]}) COLLATE "C"' if postgres else "TEXT"
    return "INTEGER" if name == "terms_version" else "BIGINT"


def _ddl(table: str, kind: str, columns: tuple[str, ...], postgres: bool, keys: bool) -> list[str]:
    cols = [f"{c} {_column_type(c, postgres)}" for c in columns]
    out = [f"DROP TABLE IF EXISTS {table}"]
    constraints = [i for i in _INDEXES[kind] if i.startswith(("PRIMARY", "UNIQUE"))] if keys else []
    out.append(f"CREATE TABLE {table} ({', '.join(cols + constraints)})")
    return out


def _index_ddl(table: str, kind: str, with_keys: bool) -> list[str]:
    out = []
    for n, spec in enumerate((*_INDEXES[kind], *_EXTRA.get(kind, ()))):
        if spec.startswith(("PRIMARY", "UNIQUE")):
            if with_keys:
                cols = spec[spec.index("(") :]
                out.append(f"CREATE UNIQUE INDEX {table}_k{n} ON {table} {cols}")
            continue
        out.append(f"CREATE INDEX {table}_i{n} ON {table} {spec}")
    return out


# --- Reading the file into stored-form tuples ---------------------------------------------------


def _blocks(path: Path) -> Iterator[pa.RecordBatch]:
    if path.suffix == ".parquet":
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH)
        return
    names = pa_csv.open_csv(path).schema.names
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=8 << 20, use_threads=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
    yield from reader


def _converted(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    """Stored form, column-wise: instants to epoch µs, prices to minor units."""
    at = batch.column("purchased_at")
    if not pa.types.is_timestamp(at.type):
        at = at.cast(pa.timestamp("us", tz="UTC"))
    at = at.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    price = pc.replace_substring(batch.column("price").cast(pa.string()), ".", "").cast(pa.int64())
    columns = [
        batch.column("purchase_id"),
        batch.column("account_id"),
        batch.column("sku"),
        batch.column("serial"),
        at,
        price,
        batch.column("currency"),
        batch.column("status"),
        batch.column("channel"),
    ]
    return list(zip(*(c.to_pylist() for c in columns), strict=True))


def import_floor(url: str, path: Path, indexes: str) -> dict[str, Any]:
    postgres = not is_sqlite(url)
    table = "floor_purchases"
    read = insert = 0.0
    rows = 0

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        nonlocal read
        started = time.perf_counter()
        for block in _blocks(path):
            converted = _converted(block)
            read += time.perf_counter() - started
            yield converted
            started = time.perf_counter()

    keys = indexes == "before"
    setup = _ddl(table, "purchases", PURCHASE_COLUMNS, postgres, keys)
    if keys:
        setup += _index_ddl(table, "purchases", with_keys=False)
    after = _index_ddl(table, "purchases", with_keys=True) if indexes == "after" else []
    placeholders = ", ".join("?" for _ in PURCHASE_COLUMNS)
    build = 0.0
    if postgres:
        import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

        with psycopg.connect(libpq_url(url)) as conn:
            for sql in setup:
                conn.execute(sql)
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur:
                sql = f"COPY {table} ({', '.join(PURCHASE_COLUMNS)}) FROM STDIN"
                with cur.copy(sql) as copy:
                    for batch in batches():
                        began = time.perf_counter()
                        for row in batch:
                            copy.write_row(row)
                        rows += len(batch)
                        insert += time.perf_counter() - began
            began = time.perf_counter()
            conn.commit()
            insert += time.perf_counter() - began
            began = time.perf_counter()
            for sql in after:
                conn.execute(sql)
            conn.commit()
            build = time.perf_counter() - began
            total = time.perf_counter() - started
            conn.execute(f"DROP TABLE {table}")
            conn.commit()
    else:
        floor_db = str(Path(sqlite_file(url)).with_name("floor.db"))
        lite = sqlite_connect(floor_db)
        for sql in setup:
            lite.execute(sql)
        started = time.perf_counter()
        lite.execute("BEGIN")
        for batch in batches():
            began = time.perf_counter()
            lite.executemany(f"INSERT INTO {table} VALUES ({placeholders})", batch)
            rows += len(batch)
            insert += time.perf_counter() - began
        began = time.perf_counter()
        lite.execute("COMMIT")
        insert += time.perf_counter() - began
        began = time.perf_counter()
        for sql in after:
            lite.execute(sql)
        build = time.perf_counter() - began
        total = time.perf_counter() - started
        lite.close()
        for suffix in ("", "-wal", "-shm"):
            Path(floor_db + suffix).unlink(missing_ok=True)
    return {"rows": rows, "read_s": read, "insert_s": insert, "index_s": build, "total_s": total}


# --- The one-scan floor of the dry run ---------------------------------------------------------


def count_floor(url: str, start_us: int, end_us: int, repeat: int) -> dict[str, Any]:
    """The query as written, and the same with index scans off (a full scan): the floor is the faster.

    Right after a bulk import neither engine has statistics, and both pick the time index for a
    window that holds most rows (random row fetches, several times slower than one full scan).
    """
    sql = COUNT_SQL.format(start=start_us, end=end_us)
    run: Callable[[str], int]
    if is_sqlite(url):
        conn = sqlite_connect(sqlite_file(url))
        no_index = sql.replace("FROM purchases p ", "FROM purchases p NOT INDEXED ", 1)

        def run(statement: str) -> int:
            return int(conn.execute(statement).fetchone()[0])

    else:
        import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

        pg = psycopg.connect(libpq_url(url), autocommit=True)
        no_index = "full scan"

        def run(statement: str) -> int:
            if statement == "full scan":
                with pg.transaction():
                    pg.execute("SET LOCAL enable_indexscan = off")
                    pg.execute("SET LOCAL enable_bitmapscan = off")
                    found = pg.execute(sql).fetchone()
            else:
                found = pg.execute(statement).fetchone()
            return int(found[0]) if found else 0

    results: dict[str, Any] = {"sql": sql}
    for label, statement in (("full_scan", no_index), ("as_written", sql)):
        times: list[float] = []
        started = time.perf_counter()
        results[f"{label}_count"] = run(statement)  # warms the cache like the scans before it did
        first = time.perf_counter() - started
        # A plan several times slower than the full scan is not the floor: one run says so (at
        # 18 M rows, walking the time index costs minutes per run on SQLite).
        if label == "as_written" and first > 3 * results["full_scan_s"]:
            times.append(first)
        for _ in range(repeat if not times else 0):
            started = time.perf_counter()
            results[f"{label}_count"] = run(statement)
            times.append(time.perf_counter() - started)
        results[f"{label}_s"] = median(times)
    best = min(("as_written", "full_scan"), key=lambda label: results[f"{label}_s"])
    results.update(count=results["as_written_count"], seconds=results[f"{best}_s"], best=best, repeat=repeat)
    return results


# --- Issuance's floor: grants and ledger rows --------------------------------------------------


def _bulk_batches(count: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """The rows ``campaign run`` writes for ``count`` grants: the grants, one posting per chunk."""
    now = 1_700_000_000_000_000
    for first in range(0, count, POSTING_CHUNK):
        grants, ledger = [], []
        posting = "issue:gr_" + hashlib.sha256(b"%d" % first).hexdigest()[:24]
        for n in range(first, min(count, first + POSTING_CHUNK)):
            gid = "gr_" + hashlib.sha256(b"%d" % n).hexdigest()[:24]
            pid, aid = f"P{n + 1:09d}", f"A{n + 1:07d}"
            grants.append(
                (
                    gid,
                    "founders-refund",
                    1,
                    aid,
                    pid,
                    f"86{n:013d}",
                    199900,
                    "CNY",
                    "issued",
                    now,
                    now,
                    posting,
                )
            )
        digest = hashlib.sha256(posting.encode()).hexdigest()
        ledger.append(
            (
                first // POSTING_CHUNK + 2,
                posting,
                "campaign:founders-refund:budget",
                "campaign:founders-refund:grants",
                "CNY",
                199900 * len(grants),
                "issue",
                "founders-refund",
                now,
                digest,
                digest,
            )
        )
        yield grants, ledger


def bulk_floor(url: str, count: int, keys: bool) -> dict[str, Any]:
    postgres = not is_sqlite(url)
    setup = _ddl("floor_grants", "grants", GRANT_COLUMNS, postgres, keys)
    setup += _ddl("floor_ledger", "ledger", LEDGER_COLUMNS, postgres, keys)
    if keys:
        setup += _index_ddl("floor_grants", "grants", with_keys=False)
        setup += _index_ddl("floor_ledger", "ledger", with_keys=False)
    seconds = 0.0
    if postgres:
        import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

        with psycopg.connect(libpq_url(url)) as conn:
            for sql in setup:
                conn.execute(sql)
            conn.commit()
            with conn.cursor() as cur:
                for grants, ledger in _bulk_batches(count):  # each batch is built before its clock starts
                    started = time.perf_counter()
                    for table, columns, rows in (
                        ("floor_grants", GRANT_COLUMNS, grants),
                        ("floor_ledger", LEDGER_COLUMNS, ledger),
                    ):
                        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                    seconds += time.perf_counter() - started
            started = time.perf_counter()
            conn.commit()
            seconds += time.perf_counter() - started
            conn.execute("DROP TABLE floor_grants")
            conn.execute("DROP TABLE floor_ledger")
            conn.commit()
    else:
        lite = sqlite_connect(sqlite_file(url))
        for sql in setup:
            lite.execute(sql)
        marks = ", ".join("?" * len(GRANT_COLUMNS))
        grant_sql = f"INSERT INTO floor_grants ({', '.join(GRANT_COLUMNS)}) VALUES ({marks})"
        ledger_sql = f"INSERT INTO floor_ledger VALUES ({', '.join('?' * 11)})"
        lite.execute("BEGIN")
        for grants, ledger in _bulk_batches(count):
            started = time.perf_counter()
            lite.executemany(grant_sql, grants)
            lite.executemany(ledger_sql, ledger)
            seconds += time.perf_counter() - started
        started = time.perf_counter()
        lite.execute("COMMIT")
        seconds += time.perf_counter() - started
        lite.execute("DROP TABLE floor_grants")
        lite.execute("DROP TABLE floor_ledger")
        lite.close()
    return {"grants": count, "rows": count + -(-count // POSTING_CHUNK), "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floors")
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("import")
    one.add_argument("--db", required=True)
    one.add_argument("--file", type=Path, required=True)
    one.add_argument("--indexes", choices=("none", "before", "after"), default="none")
    two = sub.add_parser("count")
    two.add_argument("--db", required=True)
    two.add_argument("--start", type=int, required=True)
    two.add_argument("--end", type=int, required=True)
    two.add_argument("--repeat", type=int, default=3)
    three = sub.add_parser("bulk")
    three.add_argument("--db", required=True)
    three.add_argument("--grants", type=int, required=True)
    three.add_argument("--keys", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "import":
        emit(import_floor(args.db, args.file, args.indexes))
    elif args.what == "count":
        emit(count_floor(args.db, args.start, args.end, args.repeat))
    else:
        emit(bulk_floor(args.db, args.grants, args.keys))


if __name__ == "__main__":
    main()
