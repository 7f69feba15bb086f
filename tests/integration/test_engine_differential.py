"""The DuckDB engine over files agrees with the in-process rule (ADR 29), Hypothesis-generated.

The rule dialect itself is held to CEL by ``test_rule_duckdb.py``; this holds the whole engine:
the files as import reads them (CSV text or Parquet types: instants with any offset, prices in
each currency's minor units, missing serials), the account fields joined to each purchase, the
scan per condition, the ordered candidates and the near misses. The reference is the memory
store loaded through Pledge's own readers, which evaluates every rule in process.
"""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pledge.adapters.engines.duckdb_engine import DuckDBEngine
from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.bootstrap import cached_rule
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS
from pledge.usecases.common import selection_for
from pledge.usecases.import_data import import_accounts, import_purchases
from tests.support.data import campaign

RULES = [
    'purchase.sku == "mi-1" && account.region == "CN" && purchase.status == "completed"',
    'purchase.sku != "mi \\"1\\"" || purchase.price >= 150000',
    'purchase.currency == "CNY" && account.registered_at < timestamp("2011-06-01T00:00:00+08:00")',
    'purchase.serial == "" || purchase.sku in ["mi-1", "ま", "a\\\\b"]',
    'purchase.price < 200050 && account.region in ["HK", "TW"] || purchase.channel == ""',
]
SKUS = ["mi-1", "mi-2", 'mi "1"', "ま", "a\\b", "é", "e\u0301", "𝄞", ""]
EDGE = datetime(2011, 9, 1, tzinfo=timezone(timedelta(hours=8)))  # the window's first instant

instants = st.tuples(st.integers(-3 * 86_400, 100 * 86_400), st.sampled_from([0, 8, -5, 14])).map(
    lambda t: (EDGE + timedelta(seconds=t[0])).astimezone(timezone(timedelta(hours=t[1])))
)
purchase = st.fixed_dictionaries(
    {
        "account": st.integers(0, 5),
        "sku": st.sampled_from(SKUS).filter(bool),
        "serial": st.sampled_from(["", "S1", "S2", "S3"]),
        "at": instants,
        "price": st.integers(0, 300_000),
        "currency": st.sampled_from(["CNY", "HKD", "JPY"]),
        "status": st.sampled_from(["completed", "returned", "refunded", "cancelled"]),
    }
)
accounts = st.lists(
    st.tuples(st.sampled_from(["CN", "HK", "TW", "US"]), instants.map(lambda t: t - timedelta(days=120))),
    min_size=6,
    max_size=6,
)


def _price(minor: int, currency: str) -> str:
    return str(minor // 100) if currency == "JPY" else f"{minor // 100}.{minor % 100:02d}"


def _write(folder: Path, fmt: str, people: list[tuple[str, datetime]], bought: list[dict[str, Any]]) -> None:
    """The files as users export them: CSV text, or Parquet with instants typed as UTC timestamps."""
    account_rows = [[f"A{i}", region, at] for i, (region, at) in enumerate(people)]
    purchase_rows = [
        [
            f"P{n:03d}",
            f"A{p['account']}",
            p["sku"],
            p["serial"],
            p["at"],
            _price(p["price"], p["currency"]),
            p["currency"],
            p["status"],
            "",
        ]
        for n, p in enumerate(bought)
    ]
    for name, columns, rows in (
        ("accounts", ACCOUNT_COLUMNS, account_rows),
        ("purchases", PURCHASE_COLUMNS, purchase_rows),
    ):
        if fmt == "csv":
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(columns)
                writer.writerows([v.isoformat() if isinstance(v, datetime) else v for v in r] for r in rows)
            continue
        arrays = {}
        for index, column in enumerate(columns):
            values = [row[index] for row in rows]
            if isinstance(values[0], datetime):
                arrays[column] = pa.array([v.astimezone(UTC) for v in values], pa.timestamp("us", tz="UTC"))
            else:
                arrays[column] = pa.array(values, pa.string())
        pq.write_table(pa.table(arrays), folder / f"{name}.parquet")


_counter = itertools.count()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=accounts,
    bought=st.lists(purchase, min_size=1, max_size=25),
    rule=st.sampled_from(RULES),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_the_duckdb_engine_agrees_with_the_in_process_rule(
    tmp_path: Path, people: list[tuple[str, datetime]], bought: list[dict[str, Any]], rule: str, fmt: str
) -> None:
    folder = tmp_path / str(next(_counter))
    folder.mkdir()
    _write(folder, fmt, people, bought)
    memory = memory_uow_factory(MemoryStore())
    import_accounts(memory, read_accounts(folder / f"accounts.{fmt}"))
    import_purchases(memory, read_purchases(folder / f"purchases.{fmt}"))
    terms = parse_cashback_terms(campaign(qualify={**campaign()["qualify"], "rule": rule}))
    selection = selection_for(terms, cached_rule)
    engine = DuckDBEngine(folder / f"purchases.{fmt}", folder / f"accounts.{fmt}")
    try:
        with memory() as uow:
            assert engine.scan(selection) == uow.purchases.scan(selection)
            assert [c for batch in engine.candidates(selection) for c in batch] == list(
                uow.purchases.candidates(selection)
            )
            assert engine.near_misses(selection, 10) == uow.purchases.near_misses(selection, 10)
    finally:
        engine.close()
