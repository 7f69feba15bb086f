"""Scenario B end to end through the use cases, on SQLite and on PostgreSQL.

The worked example of PRODUCT.md on real databases; the whole flow compared,
result for result, with the in-memory fakes the unit tests use; and two
processes compensating the same campaign at the same time.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from pledge.adapters.files.readers import read_accounts
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.sqlalchemy.notification_tables import notification_messages
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.adapters.sqlalchemy.tables import compensations, ledger_entries
from pledge.bootstrap import App, FixedClock, cached_rule
from pledge.domain.timeutil import format_instant, zone
from pledge.entrypoints.billing_json import applied_catalog_json, refund_json, terms_json
from pledge.entrypoints.presenters import compensation_json, ledger_check_json, quote_json, renewal_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.catalog import apply_plans
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.import_data import import_accounts
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.notify_transactional import transactional_distribution_id
from pledge.usecases.ports import UnitOfWorkFactory
from pledge.usecases.quotes import quote_plan
from pledge.usecases.report import campaign_report
from pledge.usecases.subscriptions import (
    buy_subscription,
    consented_term_json,
    list_subscriptions,
    refund_subscription,
    renew_due,
    set_term_auto_renew,
    term_json,
)
from tests.support import cli_forkserver
from tests.support.billing import (
    BUY_AT,
    CAMPAIGN_ID,
    DIAMOND,
    EXTRA_DAYS,
    GOLD,
    MONTHLY,
    MONTHLY_PLAN,
    NEW_ENDS_AT,
    PLAN_IDS,
    PLATINUM,
    TZ,
    V1_ENDS_AT,
    V2_EFFECTIVE,
    account_records,
    offer,
    plans,
    us,
    write_accounts,
)

SHANGHAI = zone(TZ)
PREPARED = "2023-10-20T09:00:00+08:00"
PUBLISHED = "2023-11-03T11:00:00+08:00"
COMPENSATED = "2023-11-04T09:00:00+08:00"


def quoted_json(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """A quote as the CLI and the API show it."""
    return quote_json(quote_plan(*args, **kwargs))


def clock(instant: str | int) -> FixedClock:
    return FixedClock(us(instant) if isinstance(instant, str) else instant)


def local(instant_us: int) -> str:
    return format_instant(instant_us, SHANGHAI)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    app = App(db_url, us(PREPARED))
    upgrade(app.engine)
    import_accounts(app.uow, read_accounts(write_accounts(tmp_path)))
    apply_plans(app.uow, app.clock, plans(MONTHLY_PLAN), "ops")
    yield app
    app.close()


def launch_v1(uow: UnitOfWorkFactory) -> None:
    apply_campaign(uow, cached_rule, clock(PREPARED), offer(1), "ops")
    approve_campaign(uow, cached_rule, clock(PREPARED), CAMPAIGN_ID, "fin")
    launch_campaign(uow, cached_rule, clock(PREPARED), CAMPAIGN_ID, "fin")


def publish_v2(uow: UnitOfWorkFactory) -> None:
    apply_campaign(uow, cached_rule, clock(PUBLISHED), offer(2), "ops")
    approve_campaign(uow, cached_rule, clock(PUBLISHED), CAMPAIGN_ID, "fin")


def compensate(uow: UnitOfWorkFactory, *, dry_run: bool, when: str = COMPENSATED) -> dict[str, Any]:
    return compensation_json(compensate_campaign(uow, clock(when), CAMPAIGN_ID, "ops", dry_run=dry_run))


def test_worked_example_on_the_database(app: App) -> None:
    """PRODUCT.md: Platinum +300 days to 2026-02-25, Gold +362, Diamond +703; dry run == apply; once."""
    launch_v1(app.uow)
    bought = {
        plan: term_json(buy_subscription(app.uow, clock(BUY_AT), f"U0{n}", plan))
        for n, plan in enumerate(PLAN_IDS, start=1)
    }
    for term in bought.values():
        assert (term["ends_at"], term["days"], term["terms_version"]) == (V1_ENDS_AT, 547, 1)
    publish_v2(app.uow)

    dry = compensate(app.uow, dry_run=True)
    items = {i["plan"]: i for i in dry["items"]}
    assert {p: i["extra_days"] for p, i in items.items()} == EXTRA_DAYS
    assert {p: i["new_ends_at"] for p, i in items.items()} == NEW_ENDS_AT
    assert items[PLATINUM]["new_ends_at"].startswith("2026-02-25")
    assert (items[PLATINUM]["days_paid_for"], items[PLATINUM]["days_under_new_terms"]) == (547, 366)
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(compensations)).scalar_one() == 0

    applied = compensate(app.uow, dry_run=False)
    assert applied["applied"] == 3 and applied["items"] == dry["items"]
    after = {t["plan"]: t for t in terms_json(list_subscriptions(app.uow))["data"]}
    assert {p: t["ends_at"] for p, t in after.items()} == NEW_ENDS_AT
    assert {p: t["compensated_days"] for p, t in after.items()} == EXTRA_DAYS
    assert after[PLATINUM]["days"] == 847  # ceil(252 x 366 / 109)

    rerun = compensate(app.uow, dry_run=False, when="2023-11-05T09:00:00+08:00")
    assert (rerun["applied"], rerun["items"], rerun["skipped"]) == (0, [], {"already_compensated": 3})
    with app.engine.connect() as conn:
        rows = conn.execute(select(compensations.c.term_id, compensations.c.extra_days)).all()
    assert sorted(days for _, days in rows) == sorted(EXTRA_DAYS.values())
    report = report_json(campaign_report(app.uow, CAMPAIGN_ID))
    assert {c["plan"]: (c["terms"], c["days"]) for c in report["compensation"]} == {
        plan: (1, days) for plan, days in EXTRA_DAYS.items()
    }
    verified = verify_ledger(app.uow)
    assert verified.ok, verified.problems


# -- the whole flow, on the database and on the fakes -------------------------------------------------


def scenario(uow: UnitOfWorkFactory) -> list[tuple[str, Any]]:
    """Every scenario-B use case once or more, with explicit clocks; returns what each one answered."""
    out: list[tuple[str, Any]] = []

    def step(name: str, result: Any) -> Any:
        out.append((name, result))
        return result

    step("plans again", applied_catalog_json(apply_plans(uow, clock(PREPARED), plans(MONTHLY_PLAN), "ops")))
    launch_v1(uow)
    step("quote v1", quoted_json(uow, clock(BUY_AT), "U01", PLATINUM))
    terms = {
        plan: step(f"buy {plan}", term_json(buy_subscription(uow, clock(BUY_AT), f"U0{n}", plan)))
        for n, plan in enumerate(PLAN_IDS, start=1)
    }
    step("buy retried", term_json(buy_subscription(uow, clock(BUY_AT), "U01", GOLD)))
    rebuy = step("buy to repurchase", term_json(buy_subscription(uow, clock(BUY_AT), "U04", GOLD)))
    prorate = step("buy to prorate", term_json(buy_subscription(uow, clock(BUY_AT), "U05", DIAMOND)))
    monthly = step(
        "buy monthly",
        term_json(buy_subscription(uow, clock("2024-01-31T10:00:00+08:00"), "U06", MONTHLY, TZ)),
    )
    publish_v2(uow)
    step("quote before v2", quoted_json(uow, clock("2023-11-03T11:59:59+08:00"), "U07", GOLD))
    step("quote v2", quoted_json(uow, clock(V2_EFFECTIVE), "U07", GOLD))
    step("quote after sale", quoted_json(uow, clock("2023-11-12T00:00:00+08:00"), "U07", GOLD, TZ))
    step("buy v2", term_json(buy_subscription(uow, clock("2023-11-05T08:00:00+08:00"), "U07", GOLD)))

    on = "2023-11-06T00:00:00+08:00"
    step(
        "auto-renew on",
        consented_term_json(set_term_auto_renew(uow, clock(on), terms[PLATINUM]["id"], True, "U02")),
    )
    step(
        "auto-renew off",
        consented_term_json(set_term_auto_renew(uow, clock(on), terms[DIAMOND]["id"], False, "U03")),
    )
    step(
        "auto-renew on again",
        consented_term_json(set_term_auto_renew(uow, clock(on), terms[PLATINUM]["id"], True, "cs-7")),
    )
    step(
        "repurchase",
        refund_json(
            refund_subscription(uow, clock("2023-11-05T10:00:00+08:00"), rebuy["id"], repurchase=True)
        ),
    )
    step("dry run", compensate(uow, dry_run=True))
    step("compensate", compensate(uow, dry_run=False))
    step("compensate again", compensate(uow, dry_run=False, when="2023-11-05T09:00:00+08:00"))
    step(
        "prorated refund",
        refund_json(
            refund_subscription(uow, clock("2024-02-01T00:00:00+08:00"), prorate["id"], prorated=True)
        ),
    )
    step(
        "monthly on",
        consented_term_json(
            set_term_auto_renew(uow, clock("2024-02-01T00:00:00+08:00"), monthly["id"], True, "U06")
        ),
    )
    step("renew Feb 29", renewal_json(renew_due(uow, clock("2024-02-29T10:00:00+08:00"))))
    step("renew Mar 31", renewal_json(renew_due(uow, clock("2024-03-31T10:00:00+08:00"))))
    step("renew late", renewal_json(renew_due(uow, clock("2027-06-01T00:00:00+08:00"))))
    first_page = step("list page", terms_json(list_subscriptions(uow, limit=3)))
    step(
        "list rest",
        terms_json(list_subscriptions(uow, starting_after=first_page["data"][-1]["id"], limit=100)),
    )
    step("list U02", terms_json(list_subscriptions(uow, account_id="U02")))
    step("report", report_json(campaign_report(uow, CAMPAIGN_ID)))
    with uow() as u:
        step("outbox", sorted(u.outbox.pending(limit=1000), key=lambda m: m["id"]))
        step("state counts", u.subscriptions.state_counts(None))
    step("ledger", ledger_check_json(verify_ledger(uow)))
    return out


def test_the_flow_on_the_database_matches_the_memory_fakes(app: App) -> None:
    on_db = scenario(app.uow)
    store = MemoryStore()
    memory = memory_uow_factory(store)
    import_accounts(memory, [account_records()])
    apply_plans(memory, clock(PREPARED), plans(MONTHLY_PLAN), "ops")
    on_memory = scenario(memory)
    assert [name for name, _ in on_db] == [name for name, _ in on_memory]
    for (name, db_result), (_, memory_result) in zip(on_db, on_memory, strict=True):
        assert json.loads(json.dumps(db_result)) == json.loads(json.dumps(memory_result)), name

    results = dict(on_db)
    assert results["buy retried"] == results[f"buy {GOLD}"]
    assert (results["quote before v2"]["terms_version"], results["quote v2"]["terms_version"]) == (1, 2)
    assert results["quote after sale"]["terms_version"] is None
    assert results["buy v2"]["price_paid"] == "29.00"
    repurchase = results["repurchase"]
    assert (repurchase["refunded"], repurchase["charged"], repurchase["net_refund"]) == (
        "72.00",
        "29.00",
        "43.00",
    )
    assert results["dry run"]["items"] == results["compensate"]["items"]
    assert {i["plan"]: i["extra_days"] for i in results["compensate"]["items"]} == EXTRA_DAYS
    assert len(results["compensate"]["items"]) == 4
    assert results["compensate"]["skipped"] == {"refunded": 1}  # the repurchased one
    assert results["compensate again"]["applied"] == 0
    # 816.00 x the unused share of the (compensated) 1250 days, 91 d 14 h used: 756.2143 -> 756.21.
    assert results["prorated refund"]["refunded"] == "756.21"
    consents = results["auto-renew on again"]["consents"]
    assert [(c["auto_renew"], c["actor"]) for c in consents] == [(True, "U02")]  # first evidence kept
    assert results["renew Feb 29"] == {"renewed": 1, "lapsed": 0, "dry_run": False, "changed": 1}
    assert results["renew Mar 31"] == {"renewed": 1, "lapsed": 0, "dry_run": False, "changed": 1}
    monthly = [t for t in results["list rest"]["data"] + results["list page"]["data"] if t["plan"] == MONTHLY]
    assert sorted((t["starts_at"], t["ends_at"]) for t in monthly)[:3] == [
        ("2024-01-31T10:00:00+08:00", "2024-02-29T10:00:00+08:00"),
        ("2024-02-29T10:00:00+08:00", "2024-03-31T10:00:00+08:00"),
        ("2024-03-31T10:00:00+08:00", "2024-04-30T10:00:00+08:00"),
    ]
    platinum = [t for t in results["list U02"]["data"] if t["kind"] == "renewal"]
    assert sorted(t["starts_at"] for t in platinum) == [NEW_ENDS_AT[PLATINUM], "2027-02-25T10:00:00+08:00"]
    assert all(t["price_paid"] == "252.00" for t in platinum)
    assert results["ledger"]["ok"], results["ledger"]["problems"]


# -- two processes compensating at once ----------------------------------------------------------------

RACE_TERMS = 24


def _buy_many(app: App) -> list[str]:
    launch_v1(app.uow)
    ids = []
    for n in range(RACE_TERMS):
        when = us(BUY_AT) + n * 60_000_000
        ids.append(buy_subscription(app.uow, clock(when), f"U{n % 12 + 1:02d}", PLAN_IDS[n % 3]).id)
    publish_v2(app.uow)
    return ids


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def race(app: App, cwd: Path, commands: list[list[str]], *, held: bool) -> list[tuple[int, str, str]]:
    """Run ``pledge`` commands as concurrent processes; (exit code, stdout, stderr) of each.

    ``held``: the test first takes the ledger head's row lock (PostgreSQL) or the write lock
    (SQLite, ``BEGIN IMMEDIATE``) and lets go only once every process waits on a lock, so all of
    them have read the state before any can commit. On PostgreSQL the processes are told apart
    by their ``application_name`` in ``pg_stat_activity``.
    """
    url = app.url
    postgres = app.engine.dialect.name == "postgresql"
    name = f"pledge-race-{uuid.uuid4().hex[:8]}"
    if postgres:
        url = f"{url}{'&' if '?' in url else '?'}application_name={name}"
    env = {**os.environ, "PLEDGE_DATABASE_URL": url, "COLUMNS": "200"}

    def waiting() -> int:
        with app.engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name AND wait_event_type = 'Lock'"
                ),
                {"name": name},
            ).scalar_one()
        return int(found)

    holder = app.engine.connect() if held else None
    try:
        if holder is not None:
            holder.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock
            lock = " FOR UPDATE" if postgres else ""
            holder.execute(text(f"SELECT seq FROM ledger_head WHERE id = 1{lock}"))
        runs = [cli_forkserver.start([*command], cwd=cwd, env=env) for command in commands]
        if holder is not None:
            if postgres:
                assert _wait_for(lambda: waiting() >= len(runs), 90), "every process should wait on a lock"
            else:
                time.sleep(4)  # the processes start and queue on the write lock (busy_timeout 30 s)
            holder.rollback()
            holder.close()
            holder = None
        done = [run.communicate(timeout=180) for run in runs]
    finally:
        if holder is not None:
            holder.close()
    return [(run.returncode, out, err) for run, (out, err) in zip(runs, done, strict=True)]


def compensate_command(actor: str) -> list[str]:
    return ["campaign", "compensate", CAMPAIGN_ID, "--json", "--actor", actor, "--now", COMPENSATED]


@pytest.mark.parametrize("held", [True, False], ids=["interleaved", "free-running"])
def test_two_processes_compensating_at_once_never_compensate_a_term_twice(
    app: App, tmp_path: Path, held: bool
) -> None:
    """The primary key on compensations.term_id plus the domain check: once per term, whoever wins.

    ``interleaved`` (see :func:`race`): on PostgreSQL one process waits on the ledger head holding
    the first term's row lock, the other on that row, both having listed the same uncompensated
    terms; on SQLite both queue on the write lock. ``free-running``: both simply start together.
    Either both exit 0, or the loser exits 1 with one clear line (already compensated / conflict).
    """
    ids = _buy_many(app)
    results = race(app, tmp_path, [compensate_command("ops-a"), compensate_command("ops-b")], held=held)
    applied = 0
    for code, stdout, stderr in results:
        if code == 0:
            applied += json.loads(stdout)["applied"]
            continue
        assert code == 1, stderr
        line = stderr.strip()
        assert len(line.splitlines()) == 1, stderr
        assert "already_compensated" in line or "conflict" in line, stderr
    assert any(code == 0 for code, _, _ in results), results
    assert applied <= RACE_TERMS

    with app.engine.connect() as conn:
        rows = conn.execute(select(compensations.c.term_id)).scalars().all()
        transfers = (
            conn.execute(select(ledger_entries.c.transfer_id).where(ledger_entries.c.kind == "compensation"))
            .scalars()
            .all()
        )
        m = notification_messages
        told = conn.execute(
            select(m.c.distribution_id, func.count())
            .where(m.c.template == "compensation_applied")
            .group_by(m.c.distribution_id)
        ).all()
    assert sorted(rows) == sorted(ids)  # exactly one compensation per term
    assert sorted(transfers) == sorted(f"compensation:{i}" for i in ids)
    # ... and its customer told of it once, on each channel (in-app; the accounts have no contacts)
    assert dict(told) == {transactional_distribution_id("compensation_applied", i): 3 for i in ids}
    terms = {t["id"]: t for t in terms_json(list_subscriptions(app.uow, limit=1000))["data"]}
    for term_id in ids:
        term = terms[term_id]
        assert term["compensated_days"] == EXTRA_DAYS[term["plan"]]
        assert term["days"] == 547 + EXTRA_DAYS[term["plan"]]
    again = compensate(app.uow, dry_run=False, when="2023-11-05T09:00:00+08:00")
    assert (again["applied"], again["skipped"]) == (0, {"already_compensated": RACE_TERMS})
    verified = verify_ledger(app.uow)
    assert verified.ok, verified.problems


def test_two_processes_retrying_the_same_purchase_get_the_same_term(app: App, tmp_path: Path) -> None:
    launch_v1(app.uow)
    buy = ["subscriptions", "buy", "U01", GOLD, "--json", "--now", BUY_AT]
    results = race(app, tmp_path, [buy, buy], held=True)
    with app.uow() as uow:
        stored = uow.subscriptions.page(account_id="U01", starting_after=None, limit=10)
        payments = [e.transfer.id for e in uow.ledger.entries() if e.transfer.kind == "payment"]
    assert len(stored) == 1 and payments == [f"pay:{stored[0].id}"]  # never charged twice
    assert [code for code, _, _ in results] == [0, 0], results
    assert json.loads(results[0][1]) == json.loads(results[1][1])
