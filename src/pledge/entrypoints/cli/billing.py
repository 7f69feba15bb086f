"""Scenario B commands: plans, quotes, subscriptions, compensation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pledge.adapters.webhooks.subjects import CATALOG_SUBJECT
from pledge.adapters.webhooks.uow import NEW_TERM_SUBJECT
from pledge.domain.errors import InputError
from pledge.domain.offers import CompensationPolicy
from pledge.entrypoints.billing_json import applied_catalog_json, refund_json, terms_json
from pledge.entrypoints.cli.app import app, campaign, load_document
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.options import (
    ActorOpt,
    DbOpt,
    JsonOpt,
    NowOpt,
    actor_name,
    app_for,
    counting,
    emit,
    fail,
    out,
)
from pledge.entrypoints.cli.render import id_column
from pledge.entrypoints.presenters import compensation_json, quote_json, renewal_json
from pledge.usecases.catalog import apply_plans
from pledge.usecases.compensate import compensate_campaign
from pledge.usecases.quotes import DEFAULT_TIMEZONE, quote_plan
from pledge.usecases.subscriptions import (
    buy_subscription,
    consented_term_json,
    list_subscriptions,
    refund_subscription,
    renew_due,
    set_term_auto_renew,
    term_json,
)

plans = typer.Typer(help="The catalog of subscription plans.", no_args_is_help=True)
subscriptions = typer.Typer(
    help="Buy, renew, refund subscriptions; record auto-renew consent.", no_args_is_help=True
)
app.add_typer(plans, name="plans")
app.add_typer(subscriptions, name="subscriptions")

TzOpt = Annotated[str, typer.Option("--timezone", help="Zone for calendar months when no offer applies.")]


def _term_line(t: dict[str, Any]) -> str:
    line = (
        f"{t['id']} {t['plan']} {t['price_paid']} {t['currency']} {t['starts_at']} → {t['ends_at']} "
        f"({t['days']} days) {t['state']}"
    )
    if t["state"] != "active":
        return line  # renewed, lapsed or refunded: auto-renew no longer decides anything
    if t["auto_renew"]:
        return (
            f"{line}; auto-renew on: renew-due renews it at {t['list_price']} {t['currency']} after it ends"
        )
    return f"{line}; auto-renew off: it ends then and renew-due lapses it"


def _consent_line(t: dict[str, Any]) -> str:
    latest = t["consents"][-1] if t["consents"] else None
    if latest is None:
        return _term_line(t)
    return f'{_term_line(t)}\n  recorded: {latest["actor"]} at {latest["at"]}: "{latest["wording"]}"'


@plans.command("apply")
def plans_apply(
    file: Path, db: DbOpt = None, as_json: JsonOpt = False, now: NowOpt = None, actor: ActorOpt = None
) -> None:
    """Create or update the catalog (a changed file is a new catalog version)."""
    with app_for(db, now) as pledge:
        who, document = actor_name(actor), load_document(file)
        with audited(pledge, "plans.apply", CATALOG_SUBJECT, who) as call:
            result = apply_plans(call.uow, pledge.clock, document, who)
        emit(
            applied_catalog_json(result),
            as_json,
            lambda r: out.print(
                f"catalog version {r['version']} "
                + ("created: " + "; ".join(r["changes"]) if r["changed"] else "unchanged")
            ),
        )


@app.command("quote")
def quote_cmd(
    account: str,
    plan: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    timezone: TzOpt = DEFAULT_TIMEZONE,
) -> None:
    """Price a plan for an account now, with the breakdown a customer would read."""
    with app_for(db, now) as pledge:
        result = quote_json(quote_plan(pledge.uow, pledge.clock, account, plan, timezone))
        emit(result, as_json, lambda r: out.print(f"{r['plan']}: {escape(r['breakdown'])}"))


@subscriptions.command("buy")
def subscriptions_buy(
    account: str,
    plan: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    timezone: TzOpt = DEFAULT_TIMEZONE,
    actor: ActorOpt = None,
) -> None:
    """Record a paid first term at the quoted terms; auto-renew starts off (the customer turns it on)."""
    with app_for(db, now) as pledge:
        with audited(pledge, "subscription.buy", NEW_TERM_SUBJECT, actor_name(actor)) as call:
            bought = buy_subscription(call.uow, pledge.clock, account, plan, timezone)
            if not call.audit.written:  # the term existed already (a retried purchase)
                call.audit.subject = f"subscription:{bought.id}"
        emit(term_json(bought), as_json, lambda t: out.print(_term_line(t)))


@subscriptions.command("list")
def subscriptions_list(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    account: Annotated[str | None, typer.Option("--account")] = None,
    starting_after: Annotated[str | None, typer.Option("--starting-after")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
) -> None:
    """One entry per paid term (a renewal is its own entry)."""
    with app_for(db) as pledge:
        result = list_subscriptions(
            pledge.uow, account_id=account, starting_after=starting_after, limit=limit
        )

        def human(r: dict[str, Any]) -> None:
            table = Table(title="Subscription terms")
            id_column(table, "id", (t["id"] for t in r["data"]))
            id_column(table, "account", (t["account_id"] for t in r["data"]))
            for column in ("plan", "paid", "from", "to", "state", "auto-renew"):
                table.add_column(column)
            for t in r["data"]:
                table.add_row(
                    t["id"],
                    t["account_id"],
                    t["plan"],
                    f"{t['price_paid']} {t['currency']}",
                    t["starts_at"],
                    t["ends_at"],
                    t["state"],
                    "on" if t["auto_renew"] else "off",
                )
            out.print(table)

        emit(terms_json(result), as_json, human)


@subscriptions.command("auto-renew")
def subscriptions_auto_renew(
    term_id: str,
    on: Annotated[
        bool, typer.Option("--on/--off", help="Turn auto-renew on or off (the customer's choice).")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Record the customer's auto-renew consent: who, when, and the exact wording shown."""
    with app_for(db, now) as pledge:
        who = actor_name(actor)
        with audited(pledge, "subscription.auto_renew", f"subscription:{term_id}", who) as call:
            result = set_term_auto_renew(call.uow, pledge.clock, term_id, on, who)
        emit(consented_term_json(result), as_json, lambda t: out.print(escape(_consent_line(t))))


@subscriptions.command("renew-due")
def subscriptions_renew_due(
    db: DbOpt = None, as_json: JsonOpt = False, now: NowOpt = None, actor: ActorOpt = None
) -> None:
    """Decide the terms that have ended: renew those with auto-renew on at list price, lapse the others.

    Terms still running are left as they are.
    """
    with app_for(db, now) as pledge:
        with audited(pledge, "subscriptions.renew_due", "subscriptions:due", actor_name(actor)) as call:
            renewed = renewal_json(renew_due(call.uow, pledge.clock))
        emit(
            renewed,
            as_json,
            lambda r: out.print(
                f"ended terms: renewed {r['renewed']:,} at list price (auto-renew on), "
                f"lapsed {r['lapsed']:,} (auto-renew off)"
            ),
        )


@subscriptions.command("refund")
def subscriptions_refund(
    term_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    repurchase: Annotated[
        bool, typer.Option("--repurchase", help="Rebuy at the terms now in effect, from the same start.")
    ] = False,
    prorated: Annotated[
        bool, typer.Option("--prorated", help="Refund only the unused share (half-even to the fen).")
    ] = False,
    actor: ActorOpt = None,
) -> None:
    """Refund a term; with --repurchase, rebuy it at the current terms (net refund reported)."""
    if repurchase and prorated:
        fail(InputError("--repurchase refunds in full; do not combine it with --prorated", param="prorated"))
    with app_for(db, now) as pledge:
        with audited(pledge, "subscription.refund", f"subscription:{term_id}", actor_name(actor)) as call:
            result = refund_subscription(
                call.uow, pledge.clock, term_id, repurchase=repurchase, prorated=prorated
            )
        emit(
            refund_json(result),
            as_json,
            lambda r: out.print(
                f"refunded {r['refunded']}, charged {r['charged']}, "
                f"net refund {r['net_refund']} {r['currency']}"
                + (
                    f", {r['compensation_days_returned']} compensation days taken back"
                    if r["compensation_days_returned"]
                    else ""
                )
                + "; "
                + _term_line(r["subscription"])
            ),
        )


@campaign.command("compensate")
def campaign_compensate(
    campaign_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, change nothing.")] = False,
    policy: Annotated[
        str | None, typer.Option(help="rate_parity (default from the terms) or difference_as_time.")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only this customer's terms.")] = None,
) -> None:
    """Make purchases under earlier terms versions whole (idempotent, resumable)."""
    try:
        chosen = CompensationPolicy(policy) if policy else None
    except ValueError:
        fail(
            InputError(f"--policy: {policy!r} is not one of rate_parity, difference_as_time", param="policy")
        )
    with app_for(db, now) as pledge:
        who, subject = actor_name(actor), f"campaign:{campaign_id}"
        with (
            audited(pledge, "campaign.compensate", subject, who, changes=not dry_run, policy=policy) as call,
            counting("compensating", "terms", quiet=as_json) as progress,
        ):
            result = compensate_campaign(
                call.uow,
                pledge.clock,
                campaign_id,
                who,
                dry_run=dry_run,
                policy=chosen,
                account_id=account,
                progress=progress,
            )
        emit(compensation_json(result), as_json, compensation_human)


def compensation_human(r: dict[str, Any]) -> None:
    verb = "would get" if r["dry_run"] else "got"
    table = Table(
        title=f"{r['campaign']}: compensation towards version {r['to_version']} ({r['policy']})"
        + (" — dry run" if r["dry_run"] else "")
    )
    id_column(table, "term", (item["subscription_id"] for item in r["items"][:50]))
    id_column(table, "account", (item["account_id"] for item in r["items"][:50]))
    for column in ("plan", "version", "extra days", "new end"):
        table.add_column(column)
    for item in r["items"][:50]:
        table.add_row(
            item["subscription_id"],
            item["account_id"],
            item["plan"],
            str(item["terms_version"]),
            str(item["extra_days"]),
            item["new_ends_at"],
        )
    out.print(table)
    for total in r["totals"]:
        out.print(
            f"  {total['plan']}: {total['terms']:,} terms {verb} {total['days']:,} days "
            f"(worth {total['money_equivalent']} {total['currency']})"
        )
    if r["skipped"]:
        out.print("  not compensated: " + ", ".join(f"{k} {v:,}" for k, v in r["skipped"].items()))
