"""``campaign select``, ``simulate --engine`` and ``run --candidates`` through the CLI (ADR 29)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pledge.adapters.files.documents import load_yaml_file
from tests.e2e.test_cli import NOW, Pledge
from tests.support.spark import require_spark

EXAMPLE = Path(__file__).parents[2] / "src" / "pledge" / "examples" / "founders-refund.yaml"


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path) -> Pledge:
    pledge = Pledge(sqlite_url, tmp_path)
    pledge.run("init")
    pledge.json("generate", "data", "--purchases", "800", "--format", "csv")
    pledge.json("import", "accounts", "data/accounts.csv")
    pledge.json("import", "purchases", "data/purchases.csv")
    return pledge


def launch(cli: Pledge, campaign_id: str) -> None:
    doc = {**load_yaml_file(EXAMPLE), "id": campaign_id, "group": campaign_id}
    path = cli.cwd / f"{campaign_id}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    cli.json("campaign", "apply", str(path), "--key", cli.key("admin", "ops"))
    cli.json("campaign", "approve", campaign_id, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", campaign_id, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)


FILES = ("--purchases", "data/purchases.csv", "--accounts", "data/accounts.csv")


def test_select_then_run_from_the_set_issues_what_a_run_over_the_import_issues(cli: Pledge) -> None:
    launch(cli, "by-import")
    launch(cli, "by-set")
    assert cli.json("campaign", "simulate", "by-set", "--engine", "duckdb", *FILES) == cli.json(
        "campaign", "simulate", "by-set"
    )
    selected = cli.json("campaign", "select", "by-set", "--engine", "duckdb", *FILES, "--out", "set")
    assert set(selected) == {"rows", "out"} and selected["rows"] > 0
    manifest = json.loads((cli.cwd / "set" / "manifest.json").read_text())
    assert manifest["rows"] == selected["rows"] and manifest["checksum"].startswith("sha256:")

    by_set = cli.json("campaign", "run", "by-set", "--candidates", "set", "--now", NOW)
    by_import = cli.json("campaign", "run", "by-import", "--now", NOW)
    assert (by_set["issued"], by_set["amount"]) == (by_import["issued"], by_import["amount"])
    assert by_set["issued"] > 0
    assert cli.json("campaign", "run", "by-set", "--candidates", "set", "--now", NOW)["issued"] == 0
    assert cli.json("ledger", "verify")["ok"] is True

    # Selecting into a directory that holds something is refused; so is a set for another campaign.
    again = cli.run("campaign", "select", "by-set", *FILES, "--out", "set", expect=2)
    assert "new or empty directory" in again.stderr
    other = cli.run("campaign", "run", "by-import", "--candidates", "set", expect=2)
    assert "candidates_other_campaign" in other.stderr and len(other.stderr.strip().splitlines()) == 1

    # Bad input: an unknown engine, a missing file, a missing set.
    assert (
        "--engine" in cli.run("campaign", "simulate", "by-set", "--engine", "oracle", *FILES, expect=2).stderr
    )
    missing = cli.run(
        "campaign",
        "select",
        "by-set",
        "--purchases",
        "nope.parquet",
        "--accounts",
        "x.csv",
        "--out",
        "o",
        expect=2,
    )
    assert "no such file" in missing.stderr
    assert (
        "candidates_not_found"
        in cli.run("campaign", "run", "by-set", "--candidates", "nowhere", expect=2).stderr
    )


def test_select_and_simulate_on_spark_through_the_cli(cli: Pledge) -> None:
    """The Spark engine from the command line, with --json: its dry run equals the one over the
    import, and its set carries the same rows and checksum as DuckDB's and issues the same grants."""
    require_spark()
    launch(cli, "on-spark")
    spark = ("--engine", "spark", "--spark-master", "local[1]", *FILES)
    assert cli.json("campaign", "simulate", "on-spark", *spark) == cli.json(
        "campaign", "simulate", "on-spark"
    )
    selected = cli.json("campaign", "select", "on-spark", *spark, "--out", "spark-set")
    duck = cli.json("campaign", "select", "on-spark", "--engine", "duckdb", *FILES, "--out", "duck-set")
    assert selected["rows"] == duck["rows"] > 0
    manifests = [json.loads((cli.cwd / d / "manifest.json").read_text()) for d in ("spark-set", "duck-set")]
    assert manifests[0]["engine"] == "spark" and manifests[0]["checksum"] == manifests[1]["checksum"]
    assert not (cli.cwd / "spark-set" / ".spark-parts").exists()  # Spark's parts are cleaned up
    issued = cli.json("campaign", "run", "on-spark", "--candidates", "spark-set", "--now", NOW)
    assert issued["issued"] > 0
    assert cli.json("ledger", "verify")["ok"] is True
