"""Selection where the history lives (ADR 29): DuckDB and Spark against their floors and each other.

    python -m benchmarks.engines --sizes 100000,1000000,18460000 --db sqlite --out docs/benchmarks.md

For each size it generates the purchase history as Parquet (`pledge generate --format parquet`)
and measures, each step its own process:

- `campaign select --engine duckdb` and `--engine spark` (local[2]) against their one-query floors
  (`benchmarks/engine_floors.py`: the same views, one query writing the same ordered set);
- `campaign run --candidates` from the DuckDB set against the bulk insert of as many grants and
  postings into bare tables (the issuance floor of `benchmarks.run`);
- the other way in, for comparison: `pledge import` of the same files, then `campaign run` over the
  imported purchases, in a database of its own.

The three ways to grants (DuckDB set, Spark set, import) are summed end to end, so each size says
which one wins on this machine. Both sets must carry the same checksum and every way the same grants.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

from benchmarks.common import CAMPAIGN_ID, Child, is_sqlite, postgres_schema, worker, write_campaign
from benchmarks.report import Report, machine, seconds, text_table, write_markdown
from benchmarks.run import SEED_ROWS, Bench, apply_and_approve

SELECT_DUCKDB = "select on DuckDB (campaign select --engine duckdb)"
FLOOR_DUCKDB = "floor: one DuckDB query writing the set"
SELECT_SPARK = "select on Spark local[2] (campaign select --engine spark)"
FLOOR_SPARK = "floor: one Spark query writing the set"
RUN_SET = "issuance from the set (campaign run --candidates)"
FLOOR_BULK = "floor: bulk insert grants + ledger"
IMPORT = "import accounts + purchases (pledge import)"
RUN_IMPORTED = "issuance from imported purchases (campaign run)"
VIA_DUCKDB = "to grants via DuckDB: select + run --candidates"
VIA_SPARK = "to grants via Spark: select + run --candidates"
VIA_IMPORT = "to grants via import: import + run"
STEPS = (
    "generate Parquet (pledge generate)",
    SELECT_DUCKDB,
    FLOOR_DUCKDB,
    SELECT_SPARK,
    FLOOR_SPARK,
    RUN_SET,
    FLOOR_BULK,
    IMPORT,
    RUN_IMPORTED,
    VIA_DUCKDB,
    VIA_SPARK,
    VIA_IMPORT,
    "peak RSS (largest step)",
)
TARGET_SELECT = 2.0  # × the engine's one-query floor
TARGET_RUN = 2.5  # × the bulk-insert floor (the end-to-end aim)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextmanager
def _database(db: str, work: Path, name: str) -> Iterator[str]:
    """A fresh database for one way to grants: a SQLite file, or a PostgreSQL schema."""
    if is_sqlite(db):
        yield f"sqlite:///{work / (name + '.db')}"
    else:
        with postgres_schema(db) as url:
            yield url


def _ratio(report: Report, step: str, floor_step: str, target: float) -> None:
    row, floor = report.row(step), report.row(floor_step)
    if not row.seconds or not floor.seconds:
        return
    row.floor, row.ratio = floor.time, row.seconds / floor.seconds
    row.target = f"≤ {target:g}× floor"
    row.met = row.ratio <= target


def _select(bench: Bench, engine: str, data: Path, out: Path) -> Child:
    step = SELECT_DUCKDB if engine == "duckdb" else SELECT_SPARK
    child = bench.cli(step, "campaign", "select", CAMPAIGN_ID, "--engine", engine, "--purchases",
                      str(data / "purchases.parquet"), "--accounts", str(data / "accounts.parquet"),
                      "--out", str(out), "--json")  # fmt: skip
    bench.timed(step, child, bench.rows)
    bench.report.row(step).note = f"{child.json()['rows']:,} candidates"
    return child


def _floor(bench: Bench, engine: str, data: Path, selected: Path, out: Path) -> None:
    step = FLOOR_DUCKDB if engine == "duckdb" else FLOOR_SPARK
    _log(f"engine floor {engine} ...")
    child = worker("engine_floors", engine, "--purchases", str(data / "purchases.parquet"), "--accounts",
                   str(data / "accounts.parquet"), "--manifest", str(selected / "manifest.json"),
                   "--out", str(out))  # fmt: skip
    found = child.json()
    bench.timed(step, child, bench.rows)
    row = bench.report.row(step)
    row.rss_mib = child.rss_mib
    row.note = (
        f"whole process; the query alone {seconds(found['query_s'])}, opening the files "
        f"{seconds(found['open_s'])}; {found['rows']:,} rows"
    )
    bench.check(f"{engine} floor rows vs the set", found["rows"], _manifest(selected)["rows"])
    _ratio(bench.report, SELECT_DUCKDB if engine == "duckdb" else SELECT_SPARK, step, TARGET_SELECT)


def _manifest(selected: Path) -> dict[str, object]:
    import json  # noqa: PLC0415

    loaded: dict[str, object] = json.loads((selected / "manifest.json").read_text(encoding="utf-8"))
    return loaded


def _prepare(bench: Bench, campaign: Path) -> None:
    bench.cli(None, "init", "--json")
    operator = apply_and_approve(bench, campaign)
    bench.cli(None, "campaign", "launch", CAMPAIGN_ID, "--key", operator, "--json")


def _via_sets(bench: Bench, data: Path, campaign: Path, spark: bool) -> int:
    work = bench.work
    _prepare(bench, campaign)
    duck = _select(bench, "duckdb", data, work / "set-duckdb")
    _floor(bench, "duckdb", data, work / "set-duckdb", work / "floor-duckdb")
    if spark:
        _select(bench, "spark", data, work / "set-spark")
        _floor(bench, "spark", data, work / "set-spark", work / "floor-spark")
        same = [_manifest(work / f"set-{e}")["checksum"] for e in ("duckdb", "spark")]
        bench.check("Spark set checksum vs DuckDB set", same[1], same[0])
    run = bench.cli(RUN_SET, "campaign", "run", CAMPAIGN_ID, "--candidates", str(work / "set-duckdb"),
                    "--actor", "ops", "--json")  # fmt: skip
    issued = int(run.json()["issued"])
    bench.timed(RUN_SET, run, issued)
    bench.report.row(
        RUN_SET
    ).note = f"{issued:,} grants from {duck.json()['rows']:,} candidates; rows/s = grants/s"
    floor = bench.work_in(FLOOR_BULK, "floors", "bulk", "--grants", str(issued))
    bench.timed(FLOOR_BULK, floor, issued)
    bench.report.row(FLOOR_BULK).note = f"{floor.json()['rows']:,} rows (the same grants and postings)"
    _ratio(bench.report, RUN_SET, FLOOR_BULK, TARGET_RUN)
    return issued


def _via_import(bench: Bench, data: Path, campaign: Path) -> int:
    _prepare(bench, campaign)
    accounts = bench.cli(IMPORT, "import", "accounts", str(data / "accounts.parquet"), "--json")
    purchases = bench.cli(None, "import", "purchases", str(data / "purchases.parquet"), "--json")
    row = bench.report.row(IMPORT)
    row.seconds = accounts.seconds + purchases.seconds
    row.time, row.rows, row.rate = seconds(row.seconds), bench.rows, bench.rows / row.seconds
    row.rss_mib = max(accounts.rss_mib, purchases.rss_mib)
    row.note = f"accounts {seconds(accounts.seconds)}, purchases {seconds(purchases.seconds)}"
    run = bench.cli(RUN_IMPORTED, "campaign", "run", CAMPAIGN_ID, "--actor", "ops", "--json")
    issued = int(run.json()["issued"])
    bench.timed(RUN_IMPORTED, run, issued)
    return issued


def _summary(report: Report, spark: bool) -> None:
    ways = {
        VIA_DUCKDB: (SELECT_DUCKDB, RUN_SET),
        VIA_SPARK: (SELECT_SPARK, RUN_SET),
        VIA_IMPORT: (IMPORT, RUN_IMPORTED),
    }
    if not spark:
        del ways[VIA_SPARK]
        report.row(VIA_SPARK).note = report.row(SELECT_SPARK).note = "not run: PySpark is not installed"
    totals = {way: sum(report.row(s).seconds or 0.0 for s in steps) for way, steps in ways.items()}
    best = min(totals, key=lambda way: totals[way])
    for way, total in totals.items():
        row = report.row(way)
        row.seconds, row.time, row.rows, row.rate = total, seconds(total), report.rows, report.rows / total
        row.rss_mib = max(report.row(s).rss_mib or 0.0 for s in ways[way])
        row.note = "fastest at this size" if way == best else f"{total / totals[best]:.2f}× the fastest"
    largest = max(
        (r for r in report.table.values() if not r.step.startswith(("floor:", "to grants"))),
        key=lambda r: r.rss_mib or 0.0,
    )
    row = report.row("peak RSS (largest step)")
    row.rss_mib, row.note = largest.rss_mib, largest.step


def measure(rows: int, db: str, work: Path, command: str, seed: int) -> Report:
    """Every step at one size; the data and databases live under ``work``."""
    kind = "sqlite" if is_sqlite(db) else "postgresql"
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    report = Report(
        kind, rows, command, {}, steps=STEPS, title=f"Selection engines, {name}", tag=f"engines-{kind}"
    )
    spark = find_spec("pyspark") is not None and shutil.which("java") is not None
    data = work / "data"
    with _database(db, work, "sets") as url:
        report.machine.update(machine(url))
        bench = Bench(report, url, work, rows, diagnostics=False)
        gen = bench.cli("generate Parquet (pledge generate)", "generate", str(data), "--purchases", str(rows),
                        "--seed", str(seed), "--format", "parquet", "--json")  # fmt: skip
        bench.timed("generate Parquet (pledge generate)", gen, rows)
        campaign = write_campaign(work, rows)
        issued = _via_sets(bench, data, campaign, spark)
    with _database(db, work, "imported") as url:
        imported = _via_import(Bench(report, url, work, rows, diagnostics=False), data, campaign)
    if imported != issued:
        report.checks.append(f"MISMATCH grants from the set vs from the import: {issued} != {imported}")
    _summary(report, spark)
    return report


def main(argv: Sequence[str] | None = None) -> list[Report]:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=f"100000,1000000,{SEED_ROWS}", help="purchases, comma-separated")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, or a postgresql:// URL (fresh schemas are used)"
    )
    parser.add_argument("--out", type=Path, help="Markdown file to write the tables into")
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--workdir", type=Path, help="where the temp dirs go (default: the system's)")
    args = parser.parse_args(args_list)
    command = "python -m benchmarks.engines " + " ".join(shlex.quote(a) for a in args_list)
    reports = []
    for rows in (int(size.replace("_", "")) for size in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix="pledge-engines-", dir=args.workdir))
        try:
            report = measure(rows, args.db, work, command, args.seed)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(text_table(report))
        if report.checks:
            print("\n".join(report.checks))
        if args.out is not None:
            write_markdown(args.out, report)
        reports.append(report)
    return reports


if __name__ == "__main__":
    main()
