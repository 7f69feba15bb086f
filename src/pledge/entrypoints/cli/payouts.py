"""``pledge payouts run|sync|list``: pay claimed red envelopes through their rails (ADR 24)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pledge.adapters.files.statements import read_statement
from pledge.bootstrap import payout_pace, payout_rail
from pledge.domain.rates import Rate
from pledge.entrypoints.cli.app import app
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.options import (
    ActorOpt,
    DbOpt,
    JsonOpt,
    NowOpt,
    actor_name,
    app_for,
    emit,
    measuring,
    out,
)
from pledge.entrypoints.payouts_json import payouts_json, reconciliation_json
from pledge.usecases.payout_listing import list_payouts
from pledge.usecases.payout_reconcile import reconcile_payouts
from pledge.usecases.payouts import COUNTED, run_payouts, sync_payouts

payouts = typer.Typer(
    help="Pay opened red envelopes: send what is due, ask about what is in flight, list transfers.",
    no_args_is_help=True,
)
app.add_typer(payouts, name="payouts")


RateOpt = Annotated[
    str | None,
    typer.Option(
        "--rate",
        help="Requests per second to each rail, shared by every payouts run and sync on the database "
        "(20/s, 1200/min); default the rail's PLEDGE_WALLET_RATE / PLEDGE_WECHAT_RATE, else no limit.",
    ),
]


def _rate(text: str | None) -> Rate | None:
    return None if text is None else Rate.parse(text, "rate")


def _counts_line(counts: dict[str, int]) -> None:
    planned = f"{counts['planned']:,} grants planned; " if "planned" in counts else ""
    out.print(planned + ", ".join(f"{key.replace('_', ' ')} {counts[key]:,}" for key in COUNTED))


@payouts.command("run")
def payouts_run(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    campaign_id: Annotated[str | None, typer.Option("--campaign", help="Only this campaign.")] = None,
    max_transfers: Annotated[
        int | None, typer.Option("--max", help="Send at most this many transfers.", min=1)
    ] = None,
    rate: RateOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Plan newly opened envelopes, then send the transfers due today within the rails' limits.

    A transfer whose answer is lost stays `unknown`: `payouts sync` resolves it, never a guess.
    Several runs at once share the work, the rails' daily limits and the request rate (ADR 32).
    """
    with app_for(db, now) as pledge, ExitStack() as stack:
        limit = _rate(rate)
        subject = f"campaign:{campaign_id}" if campaign_id else "payouts:all"
        # A bar on stderr, on a terminal only, never with --json.
        bar = None if as_json else stack.enter_context(measuring("paying", "transfers"))
        with audited(pledge, "payouts.run", subject, actor_name(actor), max_transfers=max_transfers) as call:
            result = run_payouts(
                call.uow,
                pledge.clock,
                payout_rail,
                campaign_id=campaign_id,
                max_transfers=max_transfers,
                progress=None if bar is None else lambda done: bar(done, max_transfers or done),
                pace=payout_pace(pledge.engine, limit),
            )
        emit(result, as_json, _counts_line)


@payouts.command("sync")
def payouts_sync(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    rate: RateOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Ask the provider about every submitted, unknown or waiting transfer and record its answer."""
    with app_for(db, now) as pledge:
        limit = _rate(rate)
        with audited(pledge, "payouts.sync", "payouts:all", actor_name(actor)) as call:
            synced = sync_payouts(call.uow, pledge.clock, payout_rail, pace=payout_pace(pledge.engine, limit))
        emit(synced, as_json, _counts_line)


def _table(result: dict[str, Any]) -> None:
    table = Table(title="Payout transfers" + (" (more: use --starting-after)" if result["has_more"] else ""))
    for column in ("id", "account", "rail", "amount", "due on", "state", "attempts", "reason"):
        table.add_column(column)
    for t in result["data"]:
        table.add_row(
            t["id"],
            t["account_id"],
            t["rail"],
            f"{t['amount']} {t['currency']}",
            t["due_on"],
            t["state"],
            str(t["attempts"]),
            t["reason"],
        )
    out.print(table)


@payouts.command("list")
def payouts_list(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    campaign_id: Annotated[str | None, typer.Option("--campaign")] = None,
    grant_id: Annotated[str | None, typer.Option("--grant")] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="pending, submitted, unknown, waiting_user, succeeded, failed, …"),
    ] = None,
    starting_after: Annotated[str | None, typer.Option("--starting-after")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
) -> None:
    """Transfers, in id order (a grant's in the order they are due)."""
    with app_for(db) as pledge:
        result = list_payouts(
            pledge.uow,
            campaign_id=campaign_id,
            grant_id=grant_id,
            state=state,
            starting_after=starting_after,
            limit=limit,
        )
        emit(payouts_json(result), as_json, _table)


def _reconciled(result: dict[str, Any]) -> None:
    out.print(
        f"{result['rail']}: {result['matched']:,} matched; {len(result['missing_at_provider']):,} missing at "
        f"the provider, {len(result['missing_in_ledger']):,} missing in the ledger, "
        f"{len(result['amount_mismatch']):,} amounts differ"
    )
    for key in ("missing_at_provider", "missing_in_ledger", "amount_mismatch"):
        for item in result[key]:
            out.print(
                f"  {key.replace('_', ' ')}: {item['reference']} {item.get('amount') or item.get('theirs')}"
            )


@payouts.command("reconcile")
def payouts_reconcile(
    rail: Annotated[str, typer.Option("--rail", help="wallet or wechat_transfer")],
    statement: Annotated[Path, typer.Option("--statement", help="The provider's statement (CSV).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare a provider's statement with the transfers we hold as paid; changes nothing."""
    with app_for(db, None) as pledge:
        report = reconcile_payouts(pledge.uow, rail, read_statement(statement))
        emit(reconciliation_json(report), as_json, _reconciled)
