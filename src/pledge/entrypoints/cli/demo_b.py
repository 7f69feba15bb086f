"""``pledge demo``, scenario B: the cloud Double 11 whose terms changed mid-flight."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from rich.panel import Panel

from pledge.adapters.files.readers import read_accounts
from pledge.bootstrap import App, FixedClock
from pledge.domain.records import ACCOUNT_COLUMNS
from pledge.domain.subscriptions import Term
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.billing_json import applied_catalog_json, refund_json
from pledge.entrypoints.cli import render
from pledge.entrypoints.cli.billing import compensation_human
from pledge.entrypoints.cli.demo_steps import example, step
from pledge.entrypoints.cli.options import out
from pledge.entrypoints.presenters import compensation_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.catalog import apply_plans
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.import_data import import_accounts
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.quotes import quote_plan
from pledge.usecases.report import campaign_report
from pledge.usecases.subscriptions import (
    buy_subscription,
    consented_term_json,
    refund_subscription,
    renew_due,
    set_term_auto_renew,
    term_json,
)

OFFER = "cloud-double-11"
AUTHOR, APPROVER, SUPPORT = "growth.zhang", "finance.wang", "support.liu"
CUSTOMERS = {
    "cloud-gold-buyer": "cloud-gold-50gb",
    "cloud-platinum-buyer": "cloud-platinum-200gb",
    "cloud-diamond-buyer": "cloud-diamond-2tb",
    "cloud-unhappy-buyer": "cloud-gold-50gb",
}
LATE_BUYER = "cloud-late-buyer"


def _at(app: App, instant: str) -> App:
    """The same app with the clock set to ``instant`` (the demo walks through two years)."""
    app.clock = FixedClock(parse_instant(instant))
    return app


def _line(bought: Term) -> str:
    term = term_json(bought)
    return (
        f"  {term['account_id']}: {term['plan']} paid {term['price_paid']} {term['currency']}, "
        f"{term['starts_at']} → {term['ends_at']} ({term['days']} days), terms v{term['terms_version']}"
    )


def scenario_b(app: App) -> None:
    out.print()
    out.print(
        Panel.fit(
            "[bold]Scenario B — the cloud Double 11[/]\n"
            "A cloud-storage Double 11 campaign launched as '12 months + 6 months free' at list price,\n"
            "then switched to last year's discount after users complained. People who already paid are\n"
            "made whole in service time, or refunded and rebought at the new price through customer service."
        )
    )
    with tempfile.TemporaryDirectory(prefix="pledge-demo-b-") as tmp:
        path = Path(tmp) / "cloud-accounts.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(ACCOUNT_COLUMNS)
            writer.writerows((a, "CN", "2020-01-01T00:00:00+08:00") for a in [*CUSTOMERS, LATE_BUYER])
        import_accounts(app.uow, read_accounts(path))
    _launch_v1(app)
    terms = _buy_under_v1(app)
    _terms_v2(app)
    _refund_and_compensate(app, terms)
    _renewals(app, terms)


def _launch_v1(app: App) -> None:
    """B1."""
    _at(app, "2023-10-30T09:00:00+08:00")
    step(
        "B1",
        "The catalog and terms v1",
        "List prices per year; v1 gives 6 months free on the first term. "
        f"{AUTHOR} writes it, {APPROVER} approves it (four-eyes), and it is launched.",
    )
    plans = applied_catalog_json(apply_plans(app.uow, app.clock, example("cloud-plans.yaml"), AUTHOR))
    for plan in plans["plans"]:
        out.print(f"  {plan['id']}: {plan['list_price']} {plan['currency']} per {plan['period']}")
    apply_campaign(app.uow, app.rules, app.clock, example("cloud-double-11-v1.yaml"), AUTHOR)
    approve_campaign(app.uow, app.rules, app.clock, OFFER, APPROVER)
    launch_campaign(app.uow, app.rules, app.clock, OFFER, APPROVER)


def _buy_under_v1(app: App) -> dict[str, Term]:
    """B2: the terms bought, by account."""
    _at(app, "2023-11-01T10:00:00+08:00")
    step(
        "B2",
        "Customers buy under v1",
        "A quote says exactly what the customer gets; the purchase records "
        "the quoted terms, the payment and the service days in the ledger. Auto-renew is off by default.",
    )
    offered = quote_plan(app.uow, app.clock, "cloud-platinum-buyer", "cloud-platinum-200gb")
    out.print(f"  quote: {offered.quote.breakdown}")
    terms = {a: buy_subscription(app.uow, app.clock, a, plan) for a, plan in CUSTOMERS.items()}
    for term in terms.values():
        out.print(_line(term))
    return terms


def _terms_v2(app: App) -> None:
    """B3."""
    _at(app, "2023-11-03T10:00:00+08:00")
    step(
        "B3",
        "Terms v2: back to last year's prices",
        "v2 takes effect at noon on Nov 3, once approved by "
        "someone other than its author. From then on quotes use it; earlier purchases keep what they paid.",
    )
    apply_campaign(app.uow, app.rules, app.clock, example("cloud-double-11-v2.yaml"), AUTHOR)
    approve_campaign(app.uow, app.rules, app.clock, OFFER, APPROVER)
    _at(app, "2023-11-05T10:00:00+08:00")
    out.print(f"  quote now: {quote_plan(app.uow, app.clock, LATE_BUYER, 'cloud-gold-50gb').quote.breakdown}")
    out.print(_line(buy_subscription(app.uow, app.clock, LATE_BUYER, "cloud-gold-50gb")))


def _refund_and_compensate(app: App, terms: dict[str, Term]) -> None:
    """B4 and B5."""
    step(
        "B4",
        "A customer asks for a refund and repurchase",
        f"{SUPPORT} refunds the v1 price and charges "
        "the v2 price from the same start date; that purchase will not be compensated again.",
    )
    refund = refund_subscription(app.uow, app.clock, terms["cloud-unhappy-buyer"].id, repurchase=True)
    done = refund_json(refund)
    out.print(
        f"  refunded {done['refunded']}, charged {done['charged']}, net refund {done['net_refund']} "
        f"{done['currency']}"
    )
    out.print(_line(refund.subscription))

    step(
        "B5",
        "Compensation: dry run, then apply",
        "Rate parity: each v1 buyer ends up with v2's daily rate "
        "(PRODUCT.md: Platinum +300 days to 2026-02-25, Gold +362, Diamond +703).\n"
        "Applying twice changes nothing.",
    )
    compensation_human(
        compensation_json(compensate_campaign(app.uow, app.clock, OFFER, APPROVER, dry_run=True))
    )
    applied = compensate_campaign(app.uow, app.clock, OFFER, APPROVER, dry_run=False)
    again = compensate_campaign(app.uow, app.clock, OFFER, APPROVER, dry_run=False)
    out.print(
        f"  applied {applied.applied}; applied again: {again.applied} "
        f"(already compensated: {again.skipped.get('already_compensated', 0)})"
    )


def _renewals(app: App, terms: dict[str, Term]) -> None:
    """B6 and B7."""
    _at(app, "2024-01-10T20:00:00+08:00")
    step(
        "B6",
        "Auto-renew is the customer's choice",
        "The Platinum customer opts in; Pledge keeps who, when and the exact wording shown.",
    )
    platinum = consented_term_json(
        set_term_auto_renew(
            app.uow, app.clock, terms["cloud-platinum-buyer"].id, True, "cloud-platinum-buyer"
        )
    )
    consent = platinum["consents"][-1]
    out.print(f'  {consent["actor"]} at {consent["at"]}: "{consent["wording"]}"')

    _at(app, "2026-03-01T00:00:00+08:00")
    step(
        "B7",
        "Renewals and lapses",
        "On 2026-03-01 the opted-in Platinum term renews at list price as a new "
        "term; terms without consent lapse.",
    )
    result = renew_due(app.uow, app.clock)
    out.print(f"  renewed {result.renewed}, lapsed {result.lapsed}")
    render.report(report_json(campaign_report(app.uow, OFFER)))
    verified = verify_ledger(app.uow)
    out.print(
        ("  [green]ledger ok[/]" if verified.ok else "  [red]ledger BROKEN[/]")
        + f": {verified.entries:,} entries across both scenarios (money and service days)"
    )
