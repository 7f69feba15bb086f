"""``pledge``: the command line. Thin: parse, call a use case, print."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from pledge.adapters.engines.candidate_files import FileCandidateSets
from pledge.adapters.files.documents import load_yaml_file
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.domain.campaign import CampaignState
from pledge.domain.errors import InputError
from pledge.entrypoints.cli import render
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.engine_options import (
    AccountsOpt,
    EngineOpt,
    PurchasesOpt,
    SparkMasterOpt,
    open_engine,
)
from pledge.entrypoints.cli.identity import KeyOpt, cli_key
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
    measuring,
    out,
    staged,
)
from pledge.entrypoints.explain_json import explanation_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign, set_campaign_state
from pledge.usecases.engines import on_engine
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant, expire_grants, list_grants
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.report import campaign_report
from pledge.usecases.simulate import simulate_campaign

app = typer.Typer(
    help="Pledge keeps a company's promises to its customers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
campaign = typer.Typer(help="Author, check, approve, launch and run campaigns.", no_args_is_help=True)
imports = typer.Typer(
    help="Load accounts and purchases (CSV or Parquet), all or nothing.", no_args_is_help=True
)
grants = typer.Typer(
    help="List, open (claim), expire and revoke red envelopes; list claw-back cases.", no_args_is_help=True
)
ledger = typer.Typer(help="Check the ledger.", no_args_is_help=True)
app.add_typer(campaign, name="campaign")
app.add_typer(imports, name="import")
app.add_typer(grants, name="grants")
app.add_typer(ledger, name="ledger")


def load_document(path: Path) -> dict[str, Any]:
    """A campaign or plans file (anchors, aliases and repeated keys refused; size and depth bounded)."""
    return load_yaml_file(path)


@app.command()
def init(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Create the schema, or upgrade it to this version of Pledge."""
    with app_for(db, require_schema=False) as pledge:
        before, after = upgrade(pledge.engine)
        url = pledge.engine.url.render_as_string(hide_password=True)
        emit(
            {"database": url, "from": before, "to": after, "changed": before != after},
            as_json,
            lambda r: out.print(
                f"schema at {r['to']} in {r['database']}" + ("" if r["changed"] else " (already up to date)")
            ),
        )


@campaign.command("apply")
def campaign_apply(
    file: Path,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    key: KeyOpt = None,
) -> None:
    """Create a campaign, or a new terms version if its terms changed, or nothing, with your key.

    The author is the key's person, never free text: four-eyes compares the author with the
    approver, so a name typed here could otherwise let an author approve their own terms.
    """
    with app_for(db, now) as pledge:
        author = cli_key(pledge, key, actor, "campaigns.write")
        document = load_document(file)
        with audited(
            pledge, "campaign.apply", f"campaign:{document.get('id')}", author.actor, author.key_id
        ) as call:
            result = apply_campaign(call.uow, pledge.rules, pledge.clock, document, author.actor)
        emit(
            result,
            as_json,
            lambda r: out.print(
                f"{r['id']}: version {r['version']} " + ("created" if r["changed"] else "unchanged")
            ),
        )


@campaign.command("simulate")
def campaign_simulate(
    campaign_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    near_misses: Annotated[int, typer.Option(help="How many near misses to list.")] = 100,
    widen_days: Annotated[
        int | None, typer.Option(help="Also show reach and cost with the window widened by N days.")
    ] = None,
    engine: EngineOpt = None,
    purchases: PurchasesOpt = None,
    accounts: AccountsOpt = None,
    spark_master: SparkMasterOpt = "local[2]",
) -> None:
    """Dry run over all purchases: reach, cost, rejections, near misses, problems.

    With --engine, the purchases are read from --purchases/--accounts files on that engine."""
    if not 0 <= near_misses <= 10_000:
        fail(InputError("--near-misses: must be between 0 and 10000", param="near_misses"))
    with app_for(db) as pledge, staged("opening the campaign") as stage, ExitStack() as stack:
        history = None
        if engine is not None:
            history = on_engine(stack.enter_context(open_engine(engine, purchases, accounts, spark_master)))
        result = simulate_campaign(
            pledge.uow,
            pledge.rules,
            campaign_id,
            near_miss_limit=near_misses,
            widen_days=widen_days,
            stage=stage,
            history=history,
        )
    if as_json:
        emit(result, as_json)
    else:
        render.simulation(result)


@campaign.command("approve")
def campaign_approve(
    campaign_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    content_hash: Annotated[
        str | None, typer.Option("--hash", help="Refuse unless the latest version has this content hash.")
    ] = None,
    key: KeyOpt = None,
) -> None:
    """Approve the latest terms version with your approver key (never by its author, whatever the key)."""
    with app_for(db, now) as pledge:
        approver = cli_key(pledge, key, actor, "campaigns.approve")
        with audited(
            pledge, "campaign.approve", f"campaign:{campaign_id}", approver.actor, approver.key_id
        ) as call:
            result = approve_campaign(
                call.uow, pledge.rules, pledge.clock, campaign_id, approver.actor, content_hash
            )
        emit(result, as_json, render.approval)


@campaign.command("launch")
def campaign_launch(
    campaign_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    key: KeyOpt = None,
    accept_shortfall: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Launch although the budget leaves this many qualifying purchases unpaid (the exact "
            "number the dry run reports as budget_exhausted); recorded in the campaign's history.",
        ),
    ] = None,
) -> None:
    """Activate an approved campaign and fund its budget, with your operator key."""
    with app_for(db, now) as pledge:
        operator = cli_key(pledge, key, actor, "campaigns.operate")
        subject, accepted = f"campaign:{campaign_id}", accept_shortfall
        with audited(
            pledge, "campaign.launch", subject, operator.actor, operator.key_id, accept_shortfall=accepted
        ) as call:
            result = launch_campaign(
                call.uow, pledge.rules, pledge.clock, campaign_id, operator.actor, accept_shortfall
            )
        emit(result, as_json, render.launched)


def _state_command(name: str, target: CampaignState, doc: str) -> None:
    def command(
        campaign_id: str,
        db: DbOpt = None,
        as_json: JsonOpt = False,
        now: NowOpt = None,
        actor: ActorOpt = None,
    ) -> None:
        with app_for(db, now) as pledge:
            who, subject = actor_name(actor), f"campaign:{campaign_id}"
            with audited(pledge, f"campaign.{name}", subject, who) as call:
                result = set_campaign_state(call.uow, pledge.clock, campaign_id, target, who)
            emit(result, as_json, lambda r: out.print(f"{r['id']} is {r['state']}"))

    command.__doc__ = doc
    campaign.command(name)(command)


_state_command("pause", CampaignState.PAUSED, "Pause issuance.")
_state_command("resume", CampaignState.ACTIVE, "Resume a paused campaign.")
_state_command("close", CampaignState.CLOSED, "Close a campaign for good.")


@campaign.command("run")
def campaign_run(
    campaign_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    candidates: Annotated[
        Path | None,
        typer.Option(help="Issue from this candidate set (campaign select) instead of imported purchases."),
    ] = None,
) -> None:
    """Issue grants (idempotent: re-running issues nothing twice)."""
    with app_for(db, now) as pledge:
        who = actor_name(actor)
        chosen = None if candidates is None else FileCandidateSets().open(str(candidates))
        with (
            audited(pledge, "campaign.run", f"campaign:{campaign_id}", who) as call,
            counting("issuing", "grants", quiet=as_json) as progress,
        ):
            result = run_campaign(
                call.uow,
                pledge.rules,
                pledge.clock,
                campaign_id,
                who,
                progress=progress,
                candidates=chosen,
            )
        emit(
            result,
            as_json,
            lambda r: out.print(
                f"{r['campaign']}: issued {r['issued']:,} grants, {r['amount']} {r['currency']}; "
                f"{r['budget_exhausted']:,} left out by the budget; {r['budget_remaining']} remaining"
            ),
        )


@campaign.command("report")
def campaign_report_cmd(campaign_id: str, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """State and money of one campaign."""
    with app_for(db) as pledge:
        emit(campaign_report(pledge.uow, campaign_id), as_json, render.report)


@app.command()
def explain(
    account: str,
    campaign_id: Annotated[str, typer.Option("--campaign", help="Campaign id.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why an account qualifies or not: every purchase, every condition."""
    with app_for(db) as pledge:
        explained = explain_account(pledge.uow, pledge.rules, account, campaign_id)
        emit(explanation_json(explained), as_json, render.explanation)


@grants.command("list")
def grants_list(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    campaign_id: Annotated[str | None, typer.Option("--campaign")] = None,
    account: Annotated[str | None, typer.Option("--account")] = None,
    starting_after: Annotated[str | None, typer.Option("--starting-after")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
) -> None:
    """List grants, oldest id first, with a cursor."""
    with app_for(db) as pledge:
        result = list_grants(
            pledge.uow,
            campaign_id=campaign_id,
            account_id=account,
            starting_after=starting_after,
            limit=limit,
        )
        emit(result, as_json, render.grant_list)


@grants.command("claim")
def grants_claim(
    grant_id: str, db: DbOpt = None, as_json: JsonOpt = False, now: NowOpt = None, actor: ActorOpt = None
) -> None:
    """Open a red envelope; repeating returns the same result."""
    with app_for(db, now) as pledge:
        with audited(pledge, "grant.claim", f"grant:{grant_id}", actor_name(actor)) as call:
            claimed = claim_grant(call.uow, pledge.clock, grant_id)
        emit(
            claimed,
            as_json,
            lambda g: out.print(f"grant {g['id']}: {g['amount']} {g['currency']} {g['state']}"),
        )


@grants.command("expire")
def grants_expire(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Expire unopened grants past their claim window; the value returns to the budget.

    Campaign by campaign, one transaction each: if interrupted, run it again and it continues with
    what is still due.
    """
    with app_for(db, now) as pledge:
        with (
            audited(pledge, "grants.expire", "grants:all", actor_name(actor)) as call,
            measuring("expiring", "campaigns") as progress,
        ):
            result = expire_grants(call.uow, pledge.clock, progress=progress)
        emit(result, as_json, render.expiry)


@ledger.command("verify")
def ledger_verify(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Check the hash chain, the balances and that the books match the grants (exit 1 if not)."""
    with app_for(db) as pledge:
        result = verify_ledger(pledge.uow)
        emit(
            result,
            as_json,
            lambda r: out.print(
                ("[green]ledger ok[/]" if r["ok"] else "[red]ledger BROKEN[/]")
                + f": {r['entries']:,} entries"
                + "".join(f"\n  {p}" for p in r["problems"])
            ),
        )
        if not result.ok:
            raise typer.Exit(1)
