"""Tiers through the CLI on SQLite and PostgreSQL (ADR 34): the shipped example file, the dry run's
JSON and table, the grants' tier, explain and the report. Scenario A's data: P04 (8 Dec, 00:30
local) falls in the goodwill tier."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import NOW, Pledge, cli  # noqa: F401 - fixture

CID = "founders-tiers"


def test_the_example_tiers_through_the_cli(cli: Pledge, tmp_path: Path) -> None:  # noqa: F811 - the imported fixture, by name
    cli.run("examples", "write", str(tmp_path / "examples"))
    cli.json(
        "campaign",
        "apply",
        str(tmp_path / "examples" / "founders-tiers.yaml"),
        "--key",
        cli.key("admin", "ops"),
    )
    dry = cli.json("campaign", "simulate", CID)
    assert {t: (v["grants"], v["amount"]) for t, v in dry["tiers"].items()} == {
        "founders": (3, "5297.00"),
        "just-missed": (1, "199.90"),
    }
    assert (dry["grants"], dry["amount"]) == (4, "5496.90")
    shown = cli.run("campaign", "simulate", CID).stdout
    assert "Reach and cost per tier" in shown and "2011-12-08..2011-12-31" in shown
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "op"), "--now", NOW)
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == 4
    grants = {
        g["purchase_id"]: (g["amount"], g["tier"])
        for g in cli.json("grants", "list", "--campaign", CID)["data"]
    }
    assert grants["P04"] == ("199.90", "just-missed") and grants["P01"] == ("1999.00", "founders")
    explained = cli.json("explain", "A-cn-3", "--campaign", CID)["purchases"][0]
    assert explained["conditions"][0]["tier"] == "just-missed" and explained["grant"]["tier"] == "just-missed"
    assert "tier just-missed" in cli.run("explain", "A-cn-3", "--campaign", CID).stdout
    report = cli.json("campaign", "report", CID)
    assert report["tiers"]["just-missed"] == {"grants": 1, "amount": "199.90", "claimed_amount": "0.00"}
