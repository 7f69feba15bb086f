"""Candidate sets (ADR 29): selected by DuckDB over the files, issued through the one issuance path.

A fixed, generated data set (scenario A's shape: repeat buyers, resold serials, edge instants) is
imported into Pledge's database and also read by DuckDB from the same Parquet files. Two
campaigns with the same terms, in two promise groups, are run: one over the imported purchases,
one from the DuckDB candidate set. Their grants must be the same purchases, accounts and amounts,
with a budget that binds (the ordered pass) and one that does not (the bulk split).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import text

from pledge.adapters.engines.candidate_files import FileCandidateSets
from pledge.adapters.engines.duckdb_engine import DuckDBEngine
from pledge.adapters.files.documents import load_yaml_file
from pledge.adapters.files.generate import generate
from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.errors import InputError
from pledge.domain.timeutil import parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.engines import CandidateSetWritten, on_engine, select_candidates
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.run_outcome import RunOutcome
from pledge.usecases.simulate import simulate_campaign

NOW = parse_instant("2021-08-10T12:00:00+08:00")
EXAMPLE = Path(__file__).parents[2] / "src" / "pledge" / "examples" / "founders-refund.yaml"
PURCHASES = 3_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("history")
    generate(folder, purchases=PURCHASES, seed=7, fmt="parquet")
    return {"accounts": folder / "accounts.parquet", "purchases": folder / "purchases.parquet"}


@pytest.fixture
def app(db_url: str, files: dict[str, Path]) -> Iterator[App]:
    app = App(db_url, NOW)
    upgrade(app.engine)
    import_accounts(app.uow, read_accounts(files["accounts"]))
    import_purchases(app.uow, read_purchases(files["purchases"]))
    yield app
    app.close()


@pytest.fixture
def engine(files: dict[str, Path]) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(files["purchases"], files["accounts"])
    yield engine
    engine.close()


def terms(campaign_id: str, **changes: Any) -> dict[str, Any]:
    doc = load_yaml_file(EXAMPLE)
    doc.update({"id": campaign_id, "group": campaign_id, **changes})
    return doc


def launched(app: App, doc: dict[str, Any]) -> str:
    apply_campaign(app.uow, app.rules, app.clock, doc, "ops")
    approve_campaign(app.uow, app.rules, app.clock, doc["id"], "finance")
    shortfall = simulate_campaign(app.uow, app.rules, doc["id"]).plan.budget_exhausted or None
    launch_campaign(app.uow, app.rules, app.clock, doc["id"], "finance", accept_shortfall=shortfall)
    return str(doc["id"])


def grants_of(app: App, campaign_id: str) -> list[tuple[Any, ...]]:
    with app.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT purchase_id, account_id, serial, amount_minor, currency, state, terms_version "
                "FROM grants WHERE campaign_id = :c ORDER BY purchase_id"
            ),
            {"c": campaign_id},
        )
        return [tuple(row) for row in rows]


def select(app: App, engine: DuckDBEngine, campaign_id: str, out: Path) -> CandidateSetWritten:
    return select_candidates(
        app.uow, app.rules, app.clock, campaign_id, engine, FileCandidateSets(), str(out)
    )


def run(app: App, campaign_id: str, candidates: Path | None = None) -> RunOutcome:
    chosen = None if candidates is None else FileCandidateSets().open(str(candidates))
    return run_campaign(app.uow, app.rules, app.clock, campaign_id, "ops", candidates=chosen)


@pytest.mark.parametrize("budget", ["50000000.00", "250000.00"], ids=["free", "binding"])
def test_a_candidate_set_issues_what_the_import_issues(
    app: App, engine: DuckDBEngine, tmp_path: Path, budget: str
) -> None:
    imported = launched(app, terms("from-import", budget=budget))
    from_set = launched(app, terms("from-set", budget=budget))
    selected = select(app, engine, from_set, tmp_path / "set")
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert manifest["rows"] == selected.rows > 0
    assert (manifest["engine"], manifest["terms_version"]) == ("duckdb", 1)

    by_import, by_set = run(app, imported), run(app, from_set, tmp_path / "set")
    assert replace(by_set, campaign=imported) == by_import
    assert by_set.issued > 0
    if budget == "250000.00":
        assert by_set.budget_exhausted > 0
    assert grants_of(app, from_set) == grants_of(app, imported)
    # Exactly once: a second run from the same set (or a resumed one) issues nothing.
    assert run(app, from_set, tmp_path / "set").issued == 0
    assert verify_ledger(app.uow).ok is True


def test_a_tampered_set_or_other_terms_are_refused_and_nothing_is_issued(
    app: App, engine: DuckDBEngine, tmp_path: Path
) -> None:
    campaign = launched(app, terms("from-set"))
    select(app, engine, campaign, tmp_path / "set")
    manifest_path = tmp_path / "set" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())

    other = {**manifest, "content_hash": "sha256:" + "0" * 64}
    manifest_path.write_text(json.dumps(other))
    with pytest.raises(InputError, match="approved terms are version 1") as refused:
        run(app, campaign, tmp_path / "set")
    assert refused.value.code == "candidates_terms_mismatch"

    manifest_path.write_text(json.dumps({**manifest, "campaign": "someone-else"}))
    with pytest.raises(InputError, match="selected for campaign 'someone-else'"):
        run(app, campaign, tmp_path / "set")

    manifest_path.write_text(json.dumps(manifest))
    data = tmp_path / "set" / "candidates.parquet"
    con = duckdb.connect()
    con.execute(  # one row's price doubled, the file otherwise the same
        f"COPY (SELECT * REPLACE (CASE WHEN row_number() OVER () = 1 THEN price_minor * 2 "
        f"ELSE price_minor END AS price_minor) FROM read_parquet('{data}')) TO '{tmp_path}/x.parquet'"
    )
    con.close()
    (tmp_path / "x.parquet").replace(data)
    with pytest.raises(InputError, match="do not match the manifest") as changed:
        run(app, campaign, tmp_path / "set")
    assert changed.value.code == "candidates_checksum_mismatch"
    assert grants_of(app, campaign) == []


def test_simulate_on_duckdb_equals_simulate_on_the_database(app: App, engine: DuckDBEngine) -> None:
    doc = terms("sim", budget="250000.00")
    apply_campaign(app.uow, app.rules, app.clock, doc, "ops")
    here = simulate_campaign(app.uow, app.rules, "sim", widen_days=3)
    there = simulate_campaign(app.uow, app.rules, "sim", widen_days=3, history=on_engine(engine))
    assert there == here
    assert here.plan.budget_exhausted > 0 and here.near_misses
