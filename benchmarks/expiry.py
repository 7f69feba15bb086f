"""Expiry against its floor: every grant of the run expired by ``pledge grants expire``.

``python -m benchmarks.expiry floor --db URL --now US`` prints one JSON document with two times on
Pledge's own table and indexes:

- ``sum``, the floor: one bare ``SELECT COUNT(*), SUM(amount_minor) FROM grants WHERE state =
  'issued' AND expires_at_us <= now`` -- what any expiry must at least read to know what returns to
  the budget. Expiry by mark (ADR 36) is this plus a handful of writes.
- ``update``, the baseline: one bare ``UPDATE grants SET state = 'expired' … WHERE …`` in a
  transaction that is then rolled back -- what an expiry rewriting each grant's row cannot beat
  (ADR 17's design). PostgreSQL's table is vacuumed and analyzed before and after, off the clock.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from benchmarks.common import emit, is_sqlite, libpq_url, sqlite_connect, sqlite_file
from benchmarks.report import seconds

if TYPE_CHECKING:
    from benchmarks.run import Bench

SUM_SQL = "SELECT COUNT(*), SUM(amount_minor) FROM grants WHERE state = 'issued' AND expires_at_us <= {now}"
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


def floors(url: str, now_us: int) -> dict[str, Any]:
    sum_sql, update_sql = SUM_SQL.format(now=now_us), UPDATE_SQL.format(now=now_us)
    if is_sqlite(url):
        lite = sqlite_connect(sqlite_file(url))
        lite.execute("PRAGMA cache_size=-262144")  # Pledge's own page cache
        started = time.perf_counter()
        rows = lite.execute(sum_sql).fetchone()[0]
        summed = time.perf_counter() - started
        lite.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        updated = lite.execute(update_sql).rowcount
        took = time.perf_counter() - started
        lite.execute("ROLLBACK")
        lite.close()
        return {"rows": rows, "sum_seconds": summed, "updated": updated, "update_seconds": took}
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

    _vacuum(url)
    with psycopg.connect(libpq_url(url)) as conn:
        started = time.perf_counter()
        row = conn.execute(sum_sql).fetchone()
        summed = time.perf_counter() - started
        started = time.perf_counter()
        updated = conn.execute(update_sql).rowcount
        took = time.perf_counter() - started
        conn.rollback()
    _vacuum(url)
    return {"rows": row[0] if row else 0, "sum_seconds": summed, "updated": updated, "update_seconds": took}


def expiry_steps(bench: Bench, issued: int) -> None:
    """The floors, then Pledge's expiry of the same rows, then ``ledger verify`` (a check)."""
    floor = bench.work_in("floor: SUM the due grants", "expiry", "floor", "--now", str(NOW_US)).json()
    bench.check("floor rows vs issued", floor["rows"], issued)
    bench.check("baseline rows vs issued", floor["updated"], issued)
    frow = bench.report.row("floor: SUM the due grants")
    frow.time, frow.rows = seconds(floor["sum_seconds"]), floor["rows"]
    frow.rate = floor["rows"] / floor["sum_seconds"] if floor["sum_seconds"] else None
    frow.note = "one bare aggregate over Pledge's table and indexes; rows/s = grants/s"
    brow = bench.report.row("baseline: UPDATE the same grants")
    brow.time, brow.rows = seconds(floor["update_seconds"]), floor["updated"]
    brow.rate = floor["updated"] / floor["update_seconds"] if floor["update_seconds"] else None
    brow.rss_mib = frow.rss_mib  # the same process measured both
    brow.note = "what rewriting each grant's row costs at least (rolled back); measured after the floor"
    child = bench.cli("expiry (grants expire)", "grants", "expire", "--now", NOW, "--json")
    result = child.json()
    bench.check("expired vs issued", result["expired"], issued)
    bench.timed("expiry (grants expire)", child, result["expired"])
    row = bench.report.row("expiry (grants expire)")
    row.floor = frow.time
    row.ratio = child.seconds / floor["sum_seconds"] if floor["sum_seconds"] else None
    row.target = f"≤ {TARGET:g}× floor"
    row.met = row.ratio is not None and row.ratio <= TARGET
    row.note = (
        f"{result['batches']:,} campaign(s), one ledger posting each, process start-up included; "
        f"{child.seconds / floor['update_seconds']:.2f}× the UPDATE baseline"
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
    emit(floors(args.db, args.now))


if __name__ == "__main__":
    main()
