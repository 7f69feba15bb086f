"""In-process measurements: Pledge's push-down scan, per-row peers, rule evaluation, explain.

``python -m benchmarks.peers pushdown|perrow|eval|explain ...`` prints one JSON document.

- ``pushdown``: Pledge's own dry-run scan (``SqlPurchases.scan``: the rule and the
  window compiled to SQL, one pass, per-condition counts), rows/s.
- ``perrow``: the same rule evaluated per row in Python after pulling the rows
  out of the database: zen-engine (a dev/bench-only dependency), cel-expr-python
  (no memo: one CEL call per row) and a plain Python lambda. Pulling the rows is
  timed once and charged to every peer; each peer's evaluation is timed apart.
- ``eval``: Pledge's in-process evaluation of one purchase (window and rule),
  each call timed, µs median and p99.
- ``explain``: ``explain`` for single accounts through the use case, ms median and p99.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import CAMPAIGN_ID, emit, is_sqlite, libpq_url, load_terms, median, percentile
from pledge.adapters.cel.engine import CompiledRule, compile_rule
from pledge.adapters.sqlalchemy.purchases import SqlPurchases
from pledge.bootstrap import App
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules.schema import values_of
from pledge.domain.timeutil import LocalDateWindow
from pledge.usecases.common import selection_for
from pledge.usecases.explain import explain_account

FETCH = 10_000
_ROWS_SQL = (
    "SELECT p.purchase_id, p.account_id, p.sku, p.serial, p.purchased_at_us, p.price_minor, p.currency, "
    "p.status, p.channel, p.account_id, p.account_region, p.account_registered_at_us "
    "FROM purchases p"
)
_PEER_SQL = "SELECT p.sku, p.account_region, p.status, p.currency, p.purchased_at_us FROM purchases p"
_PEER_FIELDS = ("sku", "region", "status", "currency", "at")
# The founders' rule with its window, in each peer's language.
_ZEN_RULE = (
    'at >= {start} and at < {end} and sku == "mi-1" and region == "CN" and status == "completed" '
    'and currency == "CNY"'
)
_CEL_RULE = (
    'at >= {start} && at < {end} && sku == "mi-1" && region == "CN" && status == "completed" '
    '&& currency == "CNY"'
)


def _rows(url: str, sql: str) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of rows straight from the driver (a server-side cursor on PostgreSQL)."""
    if is_sqlite(url):
        import sqlite3  # noqa: PLC0415 - only SQLite runs need it

        from benchmarks.common import sqlite_file  # noqa: PLC0415 - as sqlite3

        conn = sqlite3.connect(sqlite_file(url))
        cursor = conn.execute(sql)
        while batch := cursor.fetchmany(FETCH):
            yield batch
        conn.close()
        return
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

    with psycopg.connect(libpq_url(url)) as pg, pg.cursor(name="bench_rows") as cur:
        cur.itersize = FETCH
        cur.execute(sql)
        while batch := cur.fetchmany(FETCH):
            yield batch


def pushdown(url: str, campaign: Path, repeat: int) -> dict[str, Any]:
    terms = load_terms(campaign)
    app = App(url)
    try:
        selection = selection_for(terms, app.rules)
        times: list[float] = []
        count_times: list[float] = []
        evaluated = qualifying = counted = 0
        for _ in range(repeat + 1):  # the first pass warms the cache, as the floor's does
            with app.uow() as uow:
                purchases = uow.purchases
                assert isinstance(purchases, SqlPurchases)
                started = time.perf_counter()
                counts = purchases.scan(selection)
                times.append(time.perf_counter() - started)
                started = time.perf_counter()
                counted = purchases.count_qualifying(selection)
                count_times.append(time.perf_counter() - started)
            evaluated, qualifying = counts.evaluated, counts.qualifying
    finally:
        app.close()
    return {
        "rows": evaluated,
        "qualifying": qualifying,
        "times": times[1:],
        "seconds": median(times[1:]),  # the dry run's full scan: every condition on every row
        "count_qualifying": counted,
        "count_seconds": median(count_times[1:]),  # what a peer computes: qualifies or not
    }


def _peers(start: int, end: int) -> dict[str, Callable[[dict[str, Any]], object] | None]:
    peers: dict[str, Callable[[dict[str, Any]], object] | None] = {}
    try:
        import zen  # noqa: PLC0415 - optional: absent, the peer is skipped

        expression = zen.compile_expression(_ZEN_RULE.format(start=start, end=end))
        peers["zen-engine"] = expression.evaluate
    except ImportError:
        peers["zen-engine"] = None  # pip install zen-engine==2.1.3 (dev/bench only)
    from cel_expr_python import cel  # noqa: PLC0415 - loaded with the peers only

    types = {"sku": cel.Type.STRING, "region": cel.Type.STRING, "status": cel.Type.STRING}
    env = cel.NewEnv(variables={**types, "currency": cel.Type.STRING, "at": cel.Type.INT})
    program = env.compile(_CEL_RULE.format(start=start, end=end))
    arena = cel.Arena()
    peers["cel-expr-python"] = lambda row: program.eval(data=row, arena=arena).plain_value()

    def python(row: dict[str, Any]) -> object:
        return (
            start <= row["at"] < end
            and row["sku"] == "mi-1"
            and row["region"] == "CN"
            and row["status"] == "completed"
            and row["currency"] == "CNY"
        )

    peers["python"] = python
    return peers


def perrow(url: str, campaign: Path, limit: int) -> dict[str, Any]:
    window = load_terms(campaign).window
    peers = _peers(window.start_us, window.end_us)
    active = {name: fn for name, fn in peers.items() if fn is not None}
    spent = dict.fromkeys(active, 0.0)
    matched = dict.fromkeys(active, 0)
    fetch = 0.0
    rows = 0
    sql = _PEER_SQL + (f" LIMIT {limit}" if limit > 0 else "")
    started = time.perf_counter()
    for batch in _rows(url, sql):
        dicts = [dict(zip(_PEER_FIELDS, row, strict=True)) for row in batch]
        fetch += time.perf_counter() - started
        rows += len(dicts)
        for name, evaluate in active.items():
            began = time.perf_counter()
            matched[name] += sum(1 for row in dicts if evaluate(row) is True)
            spent[name] += time.perf_counter() - began
        started = time.perf_counter()
    result: dict[str, Any] = {"rows": rows, "fetch_s": fetch, "peers": {}}
    for name, fn in peers.items():
        if fn is None:
            result["peers"][name] = {"missing": True}
            continue
        total = fetch + spent[name]
        result["peers"][name] = {
            "eval_s": spent[name],
            "seconds": total,
            "rows_per_s": rows / total if total else 0.0,
            "eval_rows_per_s": rows / spent[name] if spent[name] else 0.0,
            "qualifying": matched[name],
        }
    return result


def evaluation(url: str, campaign: Path, sample: int) -> dict[str, Any]:
    terms = load_terms(campaign)
    window = terms.window
    values = []
    for batch in _rows(url, _ROWS_SQL + f" ORDER BY p.purchase_id LIMIT {sample}"):
        for row in batch:
            values.append(values_of(PurchaseRecord(*row[:9]), AccountRecord(*row[9:])))
    out: dict[str, Any] = {"rows": len(values)}
    for label, memoize in (("qualifies", True), ("no_memo", False)):
        out[label] = _timed(values, _decision(window, compile_rule(terms.rule, memoize=memoize)))
    rule = compile_rule(terms.rule)
    out["conditions"] = _timed(values, rule.evaluate_conditions)
    return out


def _decision(window: LocalDateWindow, rule: CompiledRule) -> Callable[[dict[str, Any]], object]:
    """What deciding one purchase in process costs: the window, then the rule."""
    qualifies = rule.qualifies

    def decide(values: dict[str, Any]) -> object:
        return window.contains(values["purchase.purchased_at"]) and qualifies(values)

    return decide


def _timed(values: list[dict[str, Any]], call: Callable[[dict[str, Any]], object]) -> dict[str, float]:
    clock = time.perf_counter_ns
    spent = [0] * len(values)
    gc.collect()
    for n, value in enumerate(values):
        began = clock()
        call(value)
        spent[n] = clock() - began
    micros = [ns / 1000 for ns in spent]
    return {
        "median_us": median(micros),
        "p99_us": percentile(micros, 0.99),
        "mean_us": sum(micros) / len(micros),
    }


def explain(url: str, accounts: int, sample: int) -> dict[str, Any]:
    chooser = random.Random(2011)
    ids = [f"A{chooser.randrange(accounts) + 1:07d}" for _ in range(sample)]
    app = App(url)
    times: list[float] = []
    purchases = 0
    try:
        explain_account(app.uow, app.rules, ids[0], CAMPAIGN_ID)  # compiles the rule once
        for account in ids:
            started = time.perf_counter()
            result = explain_account(app.uow, app.rules, account, CAMPAIGN_ID)
            times.append(time.perf_counter() - started)
            purchases += len(result.purchases)
    finally:
        app.close()
    millis = [t * 1000 for t in times]
    return {
        "accounts": len(ids),
        "purchases": purchases,
        "median_ms": median(millis),
        "p99_ms": percentile(millis, 0.99),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers")
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("pushdown", "perrow", "eval", "explain"):
        one = sub.add_parser(name)
        one.add_argument("--db", required=True)
        one.add_argument("--campaign", type=Path)
        one.add_argument("--repeat", type=int, default=3)
        one.add_argument("--limit", type=int, default=0)
        one.add_argument("--sample", type=int, default=100_000)
        one.add_argument("--accounts", type=int, default=1)
    args = parser.parse_args(argv)
    if args.what == "pushdown":
        emit(pushdown(args.db, args.campaign, args.repeat))
    elif args.what == "perrow":
        emit(perrow(args.db, args.campaign, args.limit))
    elif args.what == "eval":
        emit(evaluation(args.db, args.campaign, args.sample))
    else:
        emit(explain(args.db, args.accounts, args.sample))


if __name__ == "__main__":
    main()
