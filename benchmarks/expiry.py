"""Expiry against its floor: every grant of the run expired by ``pledge grants expire``.

``python -m benchmarks.expiry floor --db URL --now US`` prints one JSON document: the time of one
bare ``UPDATE grants SET state = 'expired' … WHERE state = 'issued' AND expires_at_us <= now`` on
Pledge's own table (its indexes maintained, as Pledge's statements maintain them), in a transaction
that is then rolled back, so Pledge's command afterwards finds the same rows. PostgreSQL's table is
vacuumed and analyzed before and after, off the clock: the floor and Pledge both start from a table
without dead rows, as a table some time after its run would be.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from benchmarks.common import emit, is_sqlite, libpq_url, sqlite_connect, sqlite_file
from benchmarks.report import seconds

if TYPE_CHECKING:
    from benchmarks.run import Bench

UPDATE_SQL = (
    "UPDATE grants SET state = 'expired', closed_at_us = {now} "
    "WHERE state = 'issued' AND expires_at_us <= {now}"
)
# Past every claim window the run set (30 days after it): every grant is due.
NOW = "2100-01-01T00:00:00Z"
NOW_US = 4_102_444_800_000_000
TARGET = 2.0  # × floor


def _vacuum(url: str) -> None:
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE grants")


def update_floor(url: str, now_us: int) -> dict[str, Any]:
    sql = UPDATE_SQL.format(now=now_us)
    if is_sqlite(url):
        lite = sqlite_connect(sqlite_file(url))
        lite.execute("PRAGMA cache_size=-262144")  # Pledge's own page cache
        lite.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        rows = lite.execute(sql).rowcount
        took = time.perf_counter() - started
        lite.execute("ROLLBACK")
        lite.close()
        return {"rows": rows, "seconds": took}
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

    _vacuum(url)
    with psycopg.connect(libpq_url(url)) as conn:
        started = time.perf_counter()
        rows = conn.execute(sql).rowcount
        took = time.perf_counter() - started
        conn.rollback()
    _vacuum(url)
    return {"rows": rows, "seconds": took}


def expiry_steps(bench: Bench, issued: int) -> None:
    """The floor, then Pledge's expiry of the same rows, then ``ledger verify`` (a check)."""
    floor = bench.work_in("floor: UPDATE the same grants", "expiry", "floor", "--now", str(NOW_US)).json()
    bench.check("floor expired vs issued", floor["rows"], issued)
    frow = bench.report.row("floor: UPDATE the same grants")
    frow.time, frow.rows = seconds(floor["seconds"]), floor["rows"]
    frow.rate = floor["rows"] / floor["seconds"] if floor["seconds"] else None
    frow.note = "one statement over Pledge's table and indexes, rolled back; rows/s = grants/s"
    child = bench.cli("expiry (grants expire)", "grants", "expire", "--now", NOW, "--json")
    result = child.json()
    bench.check("expired vs issued", result["expired"], issued)
    bench.timed("expiry (grants expire)", child, result["expired"])
    row = bench.report.row("expiry (grants expire)")
    row.floor = frow.time
    row.ratio = child.seconds / floor["seconds"] if floor["seconds"] else None
    row.target = f"≤ {TARGET:g}× floor"
    row.met = row.ratio is not None and row.ratio <= TARGET
    row.note = (
        f"{result['batches']:,} batches and as many ledger postings (10,000 grants each), "
        "process start-up included; rows/s = grants/s"
    )
    verify = bench.cli(None, "ledger", "verify", "--json")
    bench.check("ledger verify after expiry", verify.json()["ok"], True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.expiry")
    sub = parser.add_subparsers(dest="what", required=True)
    floor = sub.add_parser("floor")
    floor.add_argument("--db", required=True)
    floor.add_argument("--now", type=int, required=True)
    args = parser.parse_args(argv)
    emit(update_floor(args.db, args.now))


if __name__ == "__main__":
    main()
