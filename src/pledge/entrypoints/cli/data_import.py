"""``pledge import accounts|purchases``: load CSV or Parquet files, all or nothing (audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pledge.adapters.files.readers import count_rows, read_accounts, read_purchases
from pledge.entrypoints.cli.app import imports
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.options import ActorOpt, DbOpt, JsonOpt, NowOpt, actor_name, app_for, emit, out
from pledge.usecases.import_data import Corrector, import_accounts, import_purchases


def _progress(total: int | None, label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=total is None or total < 200_000,
    )


def _import(
    kind: str, file: Path, db: str | None, update: bool, as_json: bool, now: str | None, actor: str | None
) -> None:
    with app_for(db, now) as pledge:
        total = count_rows(file)
        who = actor_name(actor)
        corrector = Corrector(pledge.rules, pledge.clock, who)
        with (
            audited(pledge, f"{kind}.import", f"import:{kind}", who, file=file.name, update=update) as call,
            _progress(total, f"importing {kind}") as bar,
        ):
            task = bar.add_task(kind, total=total)
            if kind == "accounts":
                result = import_accounts(
                    call.uow,
                    read_accounts(file),
                    update=update,
                    progress=lambda n: bar.advance(task, n),
                    expected_rows=total,
                    corrector=corrector,
                )
            else:
                result = import_purchases(
                    call.uow,
                    read_purchases(file),
                    update=update,
                    progress=lambda n: bar.advance(task, n),
                    expected_rows=total,
                    corrector=corrector,
                )
        emit(
            result,
            as_json,
            lambda r: out.print(
                f"{kind}: {r['imported']:,} imported, {r['unchanged']:,} unchanged, {r['updated']:,} updated"
                + (f"; grants revoked {r['revoked']:,}, claw-backs {r['clawbacks']:,}" if update else "")
            ),
        )


@imports.command("accounts")
def import_accounts_cmd(
    file: Path,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    update: Annotated[bool, typer.Option("--update", help="Replace changed rows.")] = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Import accounts: account_id, region, registered_at."""
    _import("accounts", file, db, update, as_json, now, actor)


@imports.command("purchases")
def import_purchases_cmd(
    file: Path,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Replace changed rows; a grant its purchase no longer earns is revoked (or, if opened, "
            "becomes a claw-back case).",
        ),
    ] = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Import purchases (their accounts must be imported first)."""
    _import("purchases", file, db, update, as_json, now, actor)
