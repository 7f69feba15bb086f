"""``pledge demo``: scenario A step by step on a fresh SQLite file, explained for a newcomer."""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

from rich.panel import Panel

from pledge.adapters.files.generate import generate
from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.api_store import ApiKey, ApiStore
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock
from pledge.domain.errors import PledgeError
from pledge.domain.money import format_minor
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS
from pledge.domain.timeutil import format_instant, parse_instant
from pledge.entrypoints.cli import render
from pledge.entrypoints.cli.demo_b import scenario_b
from pledge.entrypoints.cli.demo_console import console_people, demo_people
from pledge.entrypoints.cli.demo_notify import tell_and_remind
from pledge.entrypoints.cli.demo_payouts import pay_and_plan
from pledge.entrypoints.cli.demo_steps import example, step
from pledge.entrypoints.cli.options import out
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant, expire_grants, grant_json, list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.report import campaign_report
from pledge.usecases.simulate import simulate_campaign

AUTHOR, APPROVER, OPERATOR = "ops.li", "finance.wang", "ops.zhao"
CAMPAIGN = "founders-refund"

# Hand-picked people whose stories the demo tells, beside the generated crowd.
SHOWCASE_ACCOUNTS = [
    ("demo-wang-bingbing", "CN", "2011-08-20T10:00:00+08:00"),
    ("demo-last-second", "CN", "2011-08-01T09:00:00+08:00"),
    ("demo-one-day-late", "CN", "2011-08-01T09:00:00+08:00"),
    ("demo-hong-kong", "HK", "2011-08-01T09:00:00+08:00"),
]
SHOWCASE_PURCHASES = [
    ("demo-p-wang", "demo-wang-bingbing", "mi-1", "IMEI-DEMO-0001", "2011-10-05T14:12:00+08:00", "1999.00"),
    ("demo-p-last", "demo-last-second", "mi-1", "IMEI-DEMO-0002", "2011-12-07T23:59:59+08:00", "1999.00"),
    ("demo-p-late", "demo-one-day-late", "mi-1", "IMEI-DEMO-0003", "2011-12-07T16:30:00Z", "1999.00"),
    ("demo-p-hk", "demo-hong-kong", "mi-1", "IMEI-DEMO-0004", "2011-10-01T12:00:00+08:00", "1999.00"),
]


def _write_showcase(folder: Path) -> tuple[Path, Path]:
    accounts, purchases = folder / "showcase-accounts.csv", folder / "showcase-purchases.csv"
    with accounts.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ACCOUNT_COLUMNS)
        writer.writerows(SHOWCASE_ACCOUNTS)
    with purchases.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PURCHASE_COLUMNS)
        writer.writerows((*row, "CNY", "completed", "online") for row in SHOWCASE_PURCHASES)
    return accounts, purchases


def run_demo(db_file: Path, purchases: int, seed: int) -> None:
    started = time.perf_counter()
    db_file.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    now_us = parse_instant("2021-08-10T20:00:00+08:00")  # the autumn-2021 announcement
    app = App(f"sqlite:///{db_file}", now_us)
    out.print(
        Panel.fit(
            "[bold]Pledge demo — scenario A: the founders' full refund[/]\n"
            "A phone maker refunds the full 1999-yuan price, as red envelopes, to everyone who bought\n"
            "its first phone between 2011-09-01 and 2011-12-07 with a mainland-China account. Pledge\n"
            "decides who qualifies and why, pays each person once from a budget that cannot be\n"
            "overspent, and books it all in a ledger."
        )
    )
    try:
        upgrade(app.engine)
        people = demo_people(app)
        _scenario_a(app, {name: key for name, (key, _) in people.items()}, purchases, seed)
        scenario_b(app)
        console_people(people, str(db_file))
    finally:
        app.close()
    out.print()
    out.print(
        f"Done in {time.perf_counter() - started:.1f} s. The database is {db_file}; try "
        f"[bold]pledge --help[/] or [bold]pledge campaign report {CAMPAIGN} --db sqlite:///{db_file}[/]."
    )


def _scenario_a(app: App, keys: dict[str, ApiKey], purchases: int, seed: int) -> None:
    # Everyone acts with their own key, as they would through the API, the console or the CLI.
    author, approver, operator = (keys[name].actor for name in (AUTHOR, APPROVER, OPERATOR))
    _import_history(app, purchases, seed)
    _terms(app, author, approver)
    _launch_and_run(app, operator)
    _customers(app)
    tell_and_remind(app, CAMPAIGN, operator, "demo-last-second")
    _expire_and_verify(app)


def _import_history(app: App, purchases: int, seed: int) -> None:
    """Step 1."""
    with tempfile.TemporaryDirectory(prefix="pledge-demo-") as tmp:
        folder = Path(tmp)
        data = generate(folder, purchases=purchases, seed=seed, fmt="csv")
        showcase_accounts, showcase_purchases = _write_showcase(folder)
        step(
            1,
            "Import purchase history",
            f"A synthetic history of {data.purchases:,} purchases by {data.accounts:,} accounts "
            f"(seed {seed}):\n"
            "window edges in several UTC offsets, HK/MO/TW accounts, returns, resold devices, discounts.\n"
            "Files are validated row by row and imported all or nothing; re-importing changes nothing.",
        )
        for accounts_file, purchases_file in (
            (data.accounts_path, data.purchases_path),
            (showcase_accounts, showcase_purchases),
        ):
            a = import_accounts(app.uow, read_accounts(accounts_file))
            p = import_purchases(app.uow, read_purchases(purchases_file))
            out.print(
                f"  {accounts_file.name}: {a.imported:,} accounts; {purchases_file.name}: "
                f"{p.imported:,} purchases"
            )
        again = import_purchases(app.uow, read_purchases(data.purchases_path))
        out.print(
            f"  re-import of {data.purchases_path.name}: {again.imported} imported, "
            f"{again.unchanged:,} unchanged"
        )


def _terms(app: App, author: str, approver: str) -> None:
    """Steps 2 to 4: the typo refused, the corrected terms, four-eyes approval."""
    step(
        2,
        "The seed's typo: 19990 instead of 1999",
        f"{AUTHOR} applies the campaign as the FAQ states it: a fixed 19990-yuan refund.\n"
        "The dry run flags it as blocking — a refund can never exceed the price paid — so it cannot even\n"
        "be approved, let alone launched: nothing is paid.",
    )
    applied = apply_campaign(app.uow, app.rules, app.clock, example("founders-refund-typo.yaml"), author)
    out.print(f"  applied {applied.campaign_id} version {applied.version} ({applied.content_hash[:19]}…)")
    sim = simulate_campaign(app.uow, app.rules, CAMPAIGN, near_miss_limit=5)
    for problem in sim.problems:
        if problem.blocking:
            out.print(f"  [bold red]BLOCKING[/] {problem.code}: {problem.message}", soft_wrap=True)
    try:
        approve_campaign(app.uow, app.rules, app.clock, CAMPAIGN, approver)
    except PledgeError as exc:
        out.print(f"  {APPROVER} tries to approve: refused ({exc.code})")

    step(
        3,
        "The corrected terms, and the dry run",
        "Version 2 refunds the price actually paid, capped at 1999.00. The dry run gives reach and cost\n"
        "before a single yuan moves, per-condition rejections, and the near misses: people just outside\n"
        "the window, whom the seed warns may feel left out. Widening by 3 days shows what that would cost.",
    )
    applied = apply_campaign(app.uow, app.rules, app.clock, example("founders-refund.yaml"), author)
    out.print(f"  applied {applied.campaign_id} version {applied.version}")
    render.simulation(simulate_campaign(app.uow, app.rules, CAMPAIGN, near_miss_limit=10, widen_days=3))

    step(
        4,
        "Four-eyes approval",
        f"The author may not approve their own terms, not even with a second key made in their name;\n"
        f"{APPROVER} can, and the approval is bound to the exact content hash of version 2.",
    )
    second_key = ApiStore(app.engine).create_key(
        scope="approver", name=AUTHOR, account_id=None, expires_at_us=None, now_us=app.wall_clock.now_us()
    )[0]
    try:
        approve_campaign(app.uow, app.rules, app.clock, CAMPAIGN, second_key.actor)
    except PledgeError as exc:
        out.print(f"  {AUTHOR} tries with an approver key of their own: refused ({exc.code})")
    ApiStore(app.engine).revoke_key(second_key.key_id, app.wall_clock.now_us())
    approved = approve_campaign(app.uow, app.rules, app.clock, CAMPAIGN, approver)
    out.print(f"  {APPROVER} approves version {approved.version} ({approved.content_hash[:19]}…)")


def _launch_and_run(app: App, operator: str) -> None:
    """Step 5."""
    step(
        5,
        "Launch and issue",
        "Launch funds the budget in the ledger; the run issues grants in purchase "
        "order until the budget cannot cover the next one. Running it again issues nothing twice.",
    )
    launched = launch_campaign(app.uow, app.rules, app.clock, CAMPAIGN, operator)
    out.print(f"  {CAMPAIGN} is {launched.state.value}")
    first = run_campaign(app.uow, app.rules, app.clock, CAMPAIGN, operator)
    amount = format_minor(first.amount_minor, first.currency)
    out.print(f"  run: issued {first.issued:,} red envelopes, {amount} {first.currency}")
    second = run_campaign(app.uow, app.rules, app.clock, CAMPAIGN, operator)
    out.print(f"  run again: issued {second.issued} (idempotent)")


def _customers(app: App) -> None:
    """Steps 6 and 7: explained person by person, an envelope opened twice."""
    step(
        6,
        "Explain, person by person",
        "Customer service can say exactly why. Wang Bingbing (from the seed) "
        "bought in October; another buyer paid at 23:59:59 on Dec 7 in Shanghai; one paid 30 minutes later\n"
        "(16:30 UTC = 00:30 on Dec 8 in Shanghai); one has a Hong Kong account.",
    )
    for account in ("demo-wang-bingbing", "demo-one-day-late", "demo-hong-kong"):
        render.explanation(explanation_json(explain_account(app.uow, app.rules, account, CAMPAIGN)))

    step(
        7,
        "Open a red envelope, twice",
        "Opening moves the money to the customer; opening again returns the same result and moves nothing.",
    )
    grant = list_grants(app.uow, account_id="demo-wang-bingbing").rows[0]
    opened = grant_json(claim_grant(app.uow, app.clock, grant.id))
    again_opened = grant_json(claim_grant(app.uow, app.clock, grant.id))
    out.print(
        f"  {opened['id']}: {opened['amount']} {opened['currency']} {opened['state']}; "
        f"second open: {again_opened['state']}, same claim time: "
        f"{opened['claimed_at'] == again_opened['claimed_at']}"
    )
    pay_and_plan(app, CAMPAIGN, opened, str(example("founders-refund.yaml")["timezone"]))


def _expire_and_verify(app: App) -> None:
    """Steps 10 and 11."""
    later = parse_instant("2021-09-10T20:00:01+08:00")
    step(
        10,
        "Unopened envelopes expire",
        f"At {format_instant(later)} the 30-day window has passed: unopened "
        "envelopes expire and their value returns to the budget through the ledger.",
    )
    expired = expire_grants(app.uow, FixedClock(later))
    out.print(f"  expired {expired.expired:,} envelopes")
    render.report(report_json(campaign_report(app.uow, CAMPAIGN)))

    step(
        11,
        "Verify the ledger",
        "Every transfer balances, the hash chain is intact, and the books match the grants and the budget.",
    )
    verified = verify_ledger(app.uow)
    out.print(
        ("  [green]ledger ok[/]" if verified.ok else "  [red]ledger BROKEN[/]")
        + f": {verified.entries:,} entries, head {verified.head_hash[:16]}…"
    )
