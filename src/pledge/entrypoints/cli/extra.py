"""``pledge generate`` and ``pledge demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pledge.adapters.files.generate import generate as generate_files
from pledge.domain.errors import InputError
from pledge.entrypoints.cli.app import app
from pledge.entrypoints.cli.demo import run_demo
from pledge.entrypoints.cli.options import JsonOpt, emit, fail, out


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder for accounts.* and purchases.*")],
    purchases: Annotated[int, typer.Option(help="How many purchases.")] = 100_000,
    accounts: Annotated[int | None, typer.Option(help="How many accounts (default purchases/1.3).")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    as_json: JsonOpt = False,
) -> None:
    """Write a seeded synthetic data set for scenario A (accounts + purchases)."""
    try:
        if fmt not in ("csv", "parquet"):
            raise InputError("--format: csv or parquet", param="format")
        if purchases < 1:
            raise InputError("--purchases: must be at least 1", param="purchases")
        out_dir.mkdir(parents=True, exist_ok=True)
        result = generate_files(
            out_dir,
            purchases=purchases,
            seed=seed,
            fmt=fmt,  # type: ignore[arg-type]  # checked above: csv or parquet
            accounts=accounts,
        )
    except Exception as exc:
        fail(exc)
    summary = {
        "accounts_file": str(result.accounts_path),
        "purchases_file": str(result.purchases_path),
        "accounts": result.accounts,
        "purchases": result.purchases,
    }
    emit(
        summary,
        as_json,
        lambda r: out.print(
            f"wrote {r['accounts']:,} accounts to {r['accounts_file']} and "
            f"{r['purchases']:,} purchases to {r['purchases_file']}"
        ),
    )


@app.command()
def demo(
    db_file: Annotated[Path, typer.Option("--file", help="SQLite file to (re)create.")] = Path(
        "pledge-demo.db"
    ),
    purchases: Annotated[int, typer.Option(help="Size of the synthetic history.")] = 20_000,
    seed: Annotated[int, typer.Option()] = 2011,
) -> None:
    """Run both seed scenarios step by step on a fresh SQLite file, explaining each step."""
    try:
        run_demo(db_file, purchases, seed)
    except Exception as exc:
        fail(exc)
