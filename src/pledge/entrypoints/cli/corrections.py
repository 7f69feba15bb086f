"""``pledge grants revoke``, ``grants reinstate`` and ``grants clawbacks`` (ADR 14, ADR 26)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from pledge.entrypoints.claims_json import reinstatement_json
from pledge.entrypoints.cli.app import grants
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.identity import KeyOpt, cli_key
from pledge.entrypoints.cli.options import ActorOpt, DbOpt, JsonOpt, NowOpt, actor_name, app_for, emit, out
from pledge.entrypoints.presenters import clawbacks_json, revoked_json
from pledge.usecases.corrections import list_clawbacks, revoke_grant
from pledge.usecases.reinstate import reinstate_grant


@grants.command("revoke")
def grants_revoke(
    grant_id: str,
    reason: Annotated[
        str, typer.Option("--reason", help="Why: recorded on the grant, shown to the customer.")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Withdraw an unopened grant; its value returns to the budget. Repeating changes nothing."""
    with app_for(db, now) as pledge:
        who = actor_name(actor)
        with audited(pledge, "grant.revoke", f"grant:{grant_id}", who) as call:
            revoked = revoked_json(revoke_grant(call.uow, pledge.clock, grant_id, reason, who))
        emit(
            revoked,
            as_json,
            lambda g: out.print(f"grant {g['id']}: {g['state']} ({g['revoked_reason']})"),
        )


@grants.command("reinstate")
def grants_reinstate(
    grant_id: str,
    reason: Annotated[str, typer.Option("--reason", help="Why: recorded in the campaign's audit trail.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    key: KeyOpt = None,
) -> None:
    """Re-open an expired grant for a fresh claim window while the budget covers it (through the
    ledger), with your own key; above `payout.reinstate_review_above` two different people do it."""
    with app_for(db, now) as pledge:
        person = cli_key(pledge, key, actor, "grants.reinstate")
        with audited(pledge, "grant.reinstate", f"grant:{grant_id}", person.actor, person.key_id) as call:
            result = reinstate_grant(call.uow, pledge.clock, grant_id, reason, person.actor)
        emit(reinstatement_json(result), as_json, _reinstated_line)


def _reinstated_line(g: dict[str, Any]) -> None:
    pending = g.get("reinstatement")
    if pending:
        first = pending["approved_by"][0]
        out.print(f"grant {g['id']}: still {g['state']}; approved by {first}, {pending['message']}")
    else:
        out.print(f"grant {g['id']}: {g['state']} until {g['expires_at']}")


def _clawback_table(result: dict[str, Any]) -> None:
    table = Table(title="Claw-back cases" + (" (more: use --starting-after)" if result["has_more"] else ""))
    for column in ("id", "grant", "campaign", "account", "amount", "reason", "state", "opened"):
        table.add_column(column)
    for c in result["data"]:
        table.add_row(
            c["id"],
            c["grant_id"],
            c["campaign"],
            c["account_id"],
            f"{c['amount']} {c['currency']}",
            c["reason"],
            c["state"],
            c["created_at"],
        )
    out.print(table)


@grants.command("clawbacks")
def grants_clawbacks(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    campaign_id: Annotated[str | None, typer.Option("--campaign")] = None,
    state: Annotated[str | None, typer.Option("--state", help="open")] = None,
    starting_after: Annotated[str | None, typer.Option("--starting-after")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
) -> None:
    """Opened grants whose purchase stopped qualifying: what customers owe back, for finance."""
    with app_for(db) as pledge:
        result = list_clawbacks(
            pledge.uow, campaign_id=campaign_id, state=state, starting_after=starting_after, limit=limit
        )
        emit(clawbacks_json(result), as_json, _clawback_table)
