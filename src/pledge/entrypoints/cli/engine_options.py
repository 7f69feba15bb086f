"""Options of the commands that read purchase history where it lives (ADR 29)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pledge.adapters.engines.duckdb_engine import DuckDBEngine

if TYPE_CHECKING:
    from pledge.adapters.engines.spark_engine import SparkEngine
from pledge.domain.errors import InputError
from pledge.usecases.engine_ports import SelectionEngine

ENGINES = ("duckdb", "spark")

EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help=f"Read the purchase history with this engine: {', '.join(ENGINES)}."),
]
PurchasesOpt = Annotated[
    Path | None, typer.Option("--purchases", help="Purchases file (Parquet or CSV, as for import).")
]
AccountsOpt = Annotated[
    Path | None, typer.Option("--accounts", help="Accounts file (Parquet or CSV, as for import).")
]

SparkMasterOpt = Annotated[
    str, typer.Option("--spark-master", help="Spark master URL for --engine spark (local[2]: in process).")
]


@contextmanager
def open_engine(
    name: str, purchases: Path | None, accounts: Path | None, spark_master: str = "local[2]"
) -> Iterator[SelectionEngine]:
    """The named engine over the files; InputError (exit 2) for an unknown engine or missing file."""
    if name not in ENGINES:
        raise InputError(f"--engine: {name!r} is not one of {', '.join(ENGINES)}", param="engine")
    if purchases is None or accounts is None:
        raise InputError("--engine needs --purchases and --accounts", param="purchases")
    engine: DuckDBEngine | SparkEngine
    if name == "spark":
        try:
            from pledge.adapters.engines.spark_engine import SparkEngine  # noqa: PLC0415  # only when asked
        except ImportError:
            raise InputError(
                "--engine spark needs PySpark (pip install pyspark==4.3.0) and a Java runtime",
                code="engine_unavailable",
                param="engine",
            ) from None
        engine = SparkEngine(purchases, accounts, spark_master)
    else:
        engine = DuckDBEngine(purchases, accounts)
    try:
        yield engine
    finally:
        engine.close()
