"""``pledge campaign select``: a campaign's candidate set, computed where the history lives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pledge.adapters.engines.candidate_files import FileCandidateSets
from pledge.entrypoints.cli.app import campaign
from pledge.entrypoints.cli.engine_options import AccountsOpt, PurchasesOpt, SparkMasterOpt, open_engine
from pledge.entrypoints.cli.options import DbOpt, JsonOpt, NowOpt, app_for, emit, out
from pledge.usecases.engines import select_candidates


@campaign.command("select")
def campaign_select(
    campaign_id: str,
    out_dir: Annotated[Path, typer.Option("--out", help="New or empty directory for the candidate set.")],
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark")] = "duckdb",
    spark_master: SparkMasterOpt = "local[2]",
    purchases: PurchasesOpt = None,
    accounts: AccountsOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
) -> None:
    """Select the approved terms' candidates on an engine; write them as Parquet with a manifest."""
    with app_for(db, now) as pledge, open_engine(engine, purchases, accounts, spark_master) as chosen:
        result = select_candidates(
            pledge.uow, pledge.rules, pledge.clock, campaign_id, chosen, FileCandidateSets(), str(out_dir)
        )
    emit(
        {"rows": result.rows, "out": result.out},
        as_json,
        lambda r: out.print(f"{campaign_id}: {r['rows']:,} candidates written to {r['out']}"),
    )
