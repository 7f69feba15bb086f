"""A purchase that paid nothing earns nothing: a refund of the price paid never becomes a grant of
0.00 (which the ledger and the database refuse), on SQLite and PostgreSQL, through the CLI."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import NOW, Pledge, write_campaign
from tests.support.data import PURCHASES, write_files

CID = "founders-refund"


def test_a_free_item_is_left_out_as_earning_nothing(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    free = [(*p[:5], "0.00", p[6]) if p[0] == "P10" else p for p in PURCHASES]  # P10 qualifies, for free
    accounts, purchases = write_files(tmp_path, free)
    cli.run("import", "accounts", str(accounts))
    cli.run("import", "purchases", str(purchases))
    cli.json("campaign", "apply", str(write_campaign(tmp_path)), "--key", cli.key("admin", "ops"))

    sim = cli.json("campaign", "simulate", CID)
    assert (sim["grants"], sim["amount"], sim["earns_nothing"], sim["blocking"]) == (2, "3798.00", 1, False)
    assert "earns nothing" in cli.run("campaign", "simulate", CID).stdout

    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == 2
    granted = {g["purchase_id"] for g in cli.json("grants", "list", "--campaign", CID)["data"]}
    assert granted == {"P01", "P03"}
    assert cli.json("ledger", "verify")["ok"] is True
    explained = cli.json("explain", "A-cn-5", "--campaign", CID)
    assert "earns_nothing" in str(explained), explained
