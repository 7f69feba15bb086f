"""What telling customers adds to a bulk compensation: ``campaign compensate`` over N subscriptions,
with its ``compensation_applied`` messages and without them.

    python -m benchmarks.compensation_messages --terms 10000 [--pairs 2] [--db postgresql://…/test]

Scenario B's offer files (``examples/cloud-*.yaml``): N first terms bought under v1 by N/2 accounts
(two each; a quarter with email and phone in Chinese, a quarter email only in English, a quarter a
phone only, a quarter no contact), then v2 approved. The same state is compensated on copies
(SQLite: copies of the file; PostgreSQL: schemas set up alike), ``--pairs`` times as shipped and as
many times with the messages left out, in the order without, with, with, without … The only
difference is ``compensate.tell_compensated``, replaced for a run without messages by a function
writing nothing. Each run is timed in this process (``time.perf_counter``), and so is the time spent
inside ``tell_compensated``: the messages' own cost, which noise elsewhere on a shared machine does
not blur. The statements sent to the ``notification_*`` tables are counted with SQLAlchemy's cursor
event. Set-up writes the terms as ``subscriptions buy`` does, 500 to a transaction.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

import pledge.usecases.compensate as compensate_module
from pledge.adapters.files.documents import load_yaml_file
from pledge.adapters.sqlalchemy.notification_tables import notification_messages
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock, cached_rule
from pledge.domain.records import AccountRecord
from pledge.domain.subscriptions import start_term
from pledge.domain.timeutil import parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.catalog import apply_plans, current_catalog
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.import_data import import_accounts
from pledge.usecases.quotes import best_quote
from pledge.usecases.subscriptions import _store_new_term, term_id_for

from .common import ROOT, postgres_schema

EXAMPLES = ROOT / "src" / "pledge" / "examples"
CAMPAIGN = "cloud-double-11"
PLANS = ("cloud-gold-50gb", "cloud-platinum-200gb", "cloud-diamond-2tb")
PREPARED = parse_instant("2023-10-30T09:00:00+08:00")
BOUGHT = parse_instant("2023-11-01T10:00:00+08:00")
PUBLISHED = parse_instant("2023-11-03T10:00:00+08:00")
COMPENSATED = parse_instant("2023-11-05T10:00:00+08:00")
SETUP_BATCH = 500


def contacts(n: int) -> tuple[str, str, str]:
    """Email, phone and language of account ``n``: every kind of reachability, a quarter each."""
    email, phone = f"a{n}@example.com", f"+86138{n:08d}"
    return [(email, phone, "zh-CN"), (email, "", "en"), ("", phone, "zh-CN"), ("", "", "zh-CN")][n % 4]


def prepare(url: str, terms: int) -> None:
    """Accounts, plans, v1 launched, ``terms`` first terms bought under it, v2 approved."""
    app = App(url, PREPARED)
    try:
        upgrade(app.engine)
        registered = parse_instant("2020-01-01T00:00:00+08:00")
        accounts = [AccountRecord(f"A{n:07d}", "CN", registered, *contacts(n)) for n in range(terms // 2 + 1)]
        import_accounts(app.uow, [accounts[i : i + 5_000] for i in range(0, len(accounts), 5_000)])
        at = FixedClock(PREPARED)
        apply_plans(app.uow, at, load_yaml_file(EXAMPLES / "cloud-plans.yaml"), "ops")
        apply_campaign(app.uow, cached_rule, at, load_yaml_file(EXAMPLES / "cloud-double-11-v1.yaml"), "ops")
        approve_campaign(app.uow, cached_rule, at, CAMPAIGN, "fin")
        launch_campaign(app.uow, cached_rule, at, CAMPAIGN, "fin")
        for start in range(0, terms, SETUP_BATCH):
            with app.uow() as uow:
                catalog = current_catalog(uow).catalog
                for n in range(start, min(start + SETUP_BATCH, terms)):
                    account, now = f"A{n // 2:07d}", BOUGHT + n * 1_000_000
                    offered = best_quote(uow, catalog.plan(PLANS[n % 3]), now, "Asia/Shanghai")
                    _store_new_term(uow, start_term(term_id_for(account, n, now), account, offered), now)
                uow.commit()
        at = FixedClock(PUBLISHED)
        apply_campaign(app.uow, cached_rule, at, load_yaml_file(EXAMPLES / "cloud-double-11-v2.yaml"), "ops")
        approve_campaign(app.uow, cached_rule, at, CAMPAIGN, "fin")
    finally:
        app.close()


@contextmanager
def _messages(enabled: bool, spent: list[float]) -> Iterator[None]:
    """As shipped, with the time spent writing messages added to ``spent``; or no messages at all."""
    original = compensate_module.tell_compensated

    def timed(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    compensate_module.tell_compensated = timed if enabled else (lambda *args, **kwargs: 0)
    try:
        yield
    finally:
        compensate_module.tell_compensated = original


def compensate(url: str, *, messages: bool) -> dict[str, Any]:
    app = App(url, COMPENSATED)
    statements = 0

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal statements
        statements += "notification_" in statement

    event.listen(app.engine, "before_cursor_execute", count)
    spent: list[float] = []
    try:
        with _messages(messages, spent):
            started = time.perf_counter()
            run = compensate_campaign(app.uow, FixedClock(COMPENSATED), CAMPAIGN, "ops", dry_run=False)
            seconds = time.perf_counter() - started
        with app.engine.connect() as conn:
            written = conn.execute(select(func.count()).select_from(notification_messages)).scalar_one()
    finally:
        app.close()
    return {
        "applied": run.applied,
        "seconds": seconds,
        "messages": written,
        "statements": statements,
        "writing_messages_s": sum(spent),
    }


def run(terms: int, db: str | None, pairs: int = 1) -> dict[str, Any]:
    """``pairs`` runs without and with messages, in the order without, with, with, without … (so a
    trend on a shared machine falls on both sides), each on its own copy of the same state."""
    plan = [(False, True), (True, False)]
    order = [messages for n in range(pairs) for messages in plan[n % 2]]
    with ExitStack() as stack:
        if db is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            prepare(f"sqlite:///{folder / 'state.db'}", terms)
            urls = []
            for n in range(len(order)):
                shutil.copy(folder / "state.db", folder / f"run{n}.db")
                urls.append(f"sqlite:///{folder / f'run{n}.db'}")
        else:
            urls = [stack.enter_context(postgres_schema(db)) for _ in order]
            for url in urls:
                prepare(url, terms)
        runs = [compensate(url, messages=messages) for url, messages in zip(urls, order, strict=True)]
    without = [r for r, messages in zip(runs, order, strict=True) if not messages]
    with_messages = [r for r, messages in zip(runs, order, strict=True) if messages]
    mean = {
        name: sum(r["seconds"] for r in group) / len(group)
        for name, group in (("without", without), ("with", with_messages))
    }
    return {
        "store": "sqlite" if db is None else "postgresql",
        "terms": terms,
        "without": without,
        "with": with_messages,
        "overhead": mean["with"] / mean["without"] - 1,
        "writing_share": sum(r["writing_messages_s"] for r in with_messages)
        / sum(r["seconds"] for r in with_messages),
    }


def _seconds(runs: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{r[key]:.2f}s" for r in runs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--db", help="a PostgreSQL URL (a fresh schema is used); SQLite if absent")
    parser.add_argument("--pairs", type=int, default=1, help="runs without and with messages, each")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.terms, args.db, args.pairs)
    if args.json:
        print(json.dumps(result))
    else:
        w, m = result["without"], result["with"]
        print(
            f"{result['store']}: {result['terms']} terms compensated in {_seconds(w, 'seconds')} "
            f"without messages, {_seconds(m, 'seconds')} with {m[0]['messages']} messages "
            f"({m[0]['statements']} statements to the notification tables, "
            f"{_seconds(m, 'writing_messages_s')} writing them): {result['overhead']:+.1%} on the mean, "
            f"{result['writing_share']:.1%} of the time writing them"
        )
    return result


if __name__ == "__main__":
    main()
