"""``pledge import serials`` and ``pledge claims submit|list|show|decide`` (ADR 28)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pledge.adapters.files.readers import read_serials
from pledge.domain.claims import MAX_EVIDENCE_BYTES
from pledge.domain.errors import InputError
from pledge.entrypoints.claims_json import claims_json, decision_json, serial_import_json
from pledge.entrypoints.cli.app import app, imports
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.identity import KeyOpt, cli_key
from pledge.entrypoints.cli.options import ActorOpt, DbOpt, JsonOpt, NowOpt, actor_name, app_for, emit, out
from pledge.usecases.claims import ClaimRequest, claim_json
from pledge.usecases.serials import import_serials

claims = typer.Typer(
    help="Claims for purchases missing from the records: submit, review, decide.", no_args_is_help=True
)
app.add_typer(claims, name="claims")


@imports.command("serials")
def import_serials_cmd(
    file: Path,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    update: Annotated[bool, typer.Option("--update", help="Replace changed rows.")] = False,
    now: NowOpt = None,
) -> None:
    """Import the serial register: serial, sku, sold_at, channel, region, activated_at (all or nothing)."""
    with app_for(db, now) as pledge:
        subject, who = "import:serials", actor_name(None)
        with audited(pledge, "serials.import", subject, who, file=file.name, update=update) as call:
            result = import_serials(call.uow, read_serials(file), update=update)
        emit(
            serial_import_json(result),
            as_json,
            lambda r: out.print(f"serials: {r['imported']:,} imported, {r['unchanged']:,} unchanged"),
        )


def _evidence(path: Path) -> tuple[str, bytes]:
    """A file's name and content, never reading more than the limit allows."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"evidence {path}: not a file", param="evidence", code="file_not_found")
        if size > MAX_EVIDENCE_BYTES:
            raise InputError(
                f"evidence {path.name}: is {size} bytes; at most {MAX_EVIDENCE_BYTES} are taken",
                param="evidence",
                code="evidence_too_large",
            )
        with path.open("rb") as handle:
            return path.name, handle.read(MAX_EVIDENCE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"evidence {path}: cannot be read ({exc.strerror})", param="evidence", code="file_not_found"
        ) from None


def _claim_line(claim: dict[str, Any]) -> None:
    out.print(
        f"claim {claim['id']}: {claim['state']}"
        + (f" by {claim['decided_by']} ({claim['reason']})" if claim["decided_by"] else "")
    )
    for check in claim["checks"]:
        out.print(f"  {'pass' if check['passed'] else 'FAIL'} {check['name']}: {check['detail']}")
    for flag in claim["flags"]:
        out.print(f"  flag {flag['name']}: {flag['detail']}")
    if claim.get("grant_id"):
        out.print(f"  grant {claim['grant_id']}")


@claims.command("submit")
def claims_submit(
    campaign_id: Annotated[str, typer.Option("--campaign", help="The campaign claimed under.")],
    account: Annotated[str, typer.Option("--account", help="The account the purchase belongs to.")],
    serial: Annotated[str, typer.Option("--serial", help="The device's serial number.")],
    purchased_at: Annotated[str, typer.Option("--purchased-at", help="ISO 8601 instant with offset.")],
    price: Annotated[str, typer.Option("--price", help='The price paid, e.g. "1999.00".')],
    evidence: Annotated[
        list[Path] | None, typer.Option("--evidence", help="A receipt photo or PDF (repeatable, 5 MB each).")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Claim a purchase missing from the records; it is checked now and waits for review (or is
    rejected by the system, with its reasons)."""
    with app_for(db, now) as pledge:
        files = [_evidence(path) for path in evidence or []]
        request = ClaimRequest(campaign_id, account, serial, purchased_at, price, files)
        who = actor_name(actor)
        with audited(pledge, "claim.submit", f"campaign:{request.campaign_id}", who) as call:
            submitted = pledge.claim_desk(call.uow).submit(request, who)
        emit(claim_json(submitted), as_json, _claim_line)


def _table(result: dict[str, Any]) -> None:
    table = Table(
        title="Claims, oldest first" + (" (more: use --starting-after)" if result["has_more"] else "")
    )
    for column in ("id", "campaign", "account", "serial", "amount", "state", "failed", "flags"):
        table.add_column(column)
    for c in result["data"]:
        table.add_row(
            c["id"],
            c["campaign"],
            c["account_id"],
            c["serial"],
            f"{c['amount']} {c['currency']}",
            c["state"],
            ", ".join(x["name"] for x in c["checks"] if not x["passed"]),
            ", ".join(f["name"] for f in c["flags"]),
        )
    out.print(table)


@claims.command("list")
def claims_list(
    campaign_id: Annotated[str | None, typer.Option("--campaign", help="Only this campaign.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="pending, approved or rejected.")] = None,
    starting_after: Annotated[str | None, typer.Option("--starting-after", help="A claim id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The review queue, oldest first, with each claim's checks and flags."""
    with app_for(db) as pledge:
        result = pledge.claim_desk().list(
            campaign_id=campaign_id, state=state, starting_after=starting_after, limit=limit
        )
        emit(claims_json(result), as_json, _table)


@claims.command("show")
def claims_show(claim_id: str, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """One claim: its checks, flags, evidence hashes and decision."""
    with app_for(db) as pledge:
        emit(claim_json(pledge.claim_desk().get(claim_id)), as_json, _claim_line)


@claims.command("decide")
def claims_decide(
    claim_id: str,
    reason: Annotated[str, typer.Option("--reason", help="A reason code, e.g. receipt_matches.")],
    approve: Annotated[
        bool | None,
        typer.Option("--approve/--reject", help="Approve (grant through the campaign) or reject."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
    key: KeyOpt = None,
) -> None:
    """Decide a pending claim with your own key (never your own claim; two people above
    `claims.review_above`). An approval grants through the campaign's run: same rule, limits,
    budget and ledger."""
    if approve is None:
        raise InputError("say --approve or --reject", param="approve", code="missing_decision")
    with app_for(db, now) as pledge:
        decider = cli_key(pledge, key, actor, "claims.decide")
        verdict = "approve" if approve else "reject"
        with audited(
            pledge, "claim.decide", f"claim:{claim_id}", decider.actor, decider.key_id, decision=verdict
        ) as call:
            result = pledge.claim_desk(call.uow).decide(
                claim_id, approve=approve, reason=reason, actor=decider.actor
            )
        emit(decision_json(result), as_json, _claim_line)
