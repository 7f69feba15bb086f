"""Promise groups, stacking, why no grant and the launch shortfall through the CLI (ADR 15).

Real processes on SQLite and PostgreSQL: JSON, the Rich output, exit codes and stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.e2e.test_cli import NOW, Pledge, cli  # noqa: F401 - fixture
from tests.support.data import campaign

CID, COPY = "founders-refund", "founders-refund-copy"


def apply(pledge: Pledge, folder: Path, **changes: Any) -> str:
    path = folder / f"{changes.get('id', CID)}.yaml"
    path.write_text(yaml.safe_dump(campaign(**changes), allow_unicode=True), encoding="utf-8")
    pledge.json("campaign", "apply", str(path), "--key", pledge.key("admin", "ops"))
    return str(changes.get("id", CID))


def start(pledge: Pledge, folder: Path, **changes: Any) -> str:
    campaign_id = apply(pledge, folder, **changes)
    pledge.json("campaign", "approve", campaign_id, "--key", pledge.key("approver", "finance"))
    pledge.json("campaign", "launch", campaign_id, "--key", pledge.key("operator", "op"), "--now", NOW)
    return campaign_id


def why(pledge: Pledge, account: str, campaign_id: str) -> dict[str, dict[str, Any]]:
    explained = pledge.json("explain", account, "--campaign", campaign_id)
    return {p["purchase_id"]: p["why_no_grant"] for p in explained["purchases"] if "why_no_grant" in p}


def test_a_copied_campaign_pays_nothing_twice(cli: Pledge, tmp_path: Path) -> None:  # noqa: F811 - the imported fixture, by name
    start(cli, tmp_path)
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == 3
    start(cli, tmp_path, id=COPY)
    dry = cli.json("campaign", "simulate", COPY)
    assert (dry["grants"], dry["already_paid"], dry["already_paid_by"]) == (0, 3, {CID: 3})
    shown = cli.run("campaign", "simulate", COPY).stdout
    assert "left out: already paid by founders-refund" in shown and "default, stacking excluded" in shown
    run = cli.json("campaign", "run", COPY, "--now", NOW)
    assert (run["issued"], run["already_paid"]) == (dry["grants"], dry["already_paid"])
    assert why(cli, "A-cn-5", COPY)["P10"]["message"] == (
        "already paid by campaign founders-refund of the same promise group (stacking is not allowed)"
    )
    assert (
        "no grant: already paid by campaign founders-refund"
        in cli.run("explain", "A-cn-5", "--campaign", COPY).stdout
    )


def test_stacking_allowed_is_shown_to_the_approver_and_pays_again(cli: Pledge, tmp_path: Path) -> None:  # noqa: F811 - the imported fixture, by name
    start(cli, tmp_path)
    cli.json("campaign", "run", CID, "--now", NOW)
    apply(cli, tmp_path, id=COPY, stacking="allowed")
    shown = cli.run("campaign", "simulate", COPY).stdout
    assert "stacking ALLOWED" in shown
    assert (
        "stacking_allowed: stacking allowed: 3 qualifying purchases already paid by founders-refund (3)"
        in shown
    )
    approved = cli.run("campaign", "approve", COPY, "--key", cli.key("approver", "finance")).stdout
    assert (
        "stacking allowed: this version pays purchases other campaigns of group default already paid"
        in approved
    )
    cli.json("campaign", "launch", COPY, "--key", cli.key("operator", "op"), "--now", NOW)
    assert cli.json("campaign", "run", COPY, "--now", NOW)["issued"] == 3


def test_launch_with_a_shortfall_and_every_reason_for_no_grant(cli: Pledge, tmp_path: Path) -> None:  # noqa: F811 - the imported fixture, by name
    apply(cli, tmp_path, budget="3000.00")
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    assert cli.json("campaign", "simulate", CID)["budget_exhausted"] == 2
    assert why(cli, "A-cn-5", CID)["P10"]["code"] == "not_launched"
    refused = cli.run("campaign", "launch", CID, "--key", cli.key("operator", "op"), "--now", NOW, expect=1)
    assert "budget_shortfall" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert (
        "2 qualifying purchases would get nothing" in refused.stderr and "2297.00 CNY short" in refused.stderr
    )
    cli.run(
        "campaign", "launch", CID, "--key", cli.key("operator", "op"), "--accept-shortfall", "3", expect=1
    )
    cli.run(
        "campaign", "launch", CID, "--key", cli.key("operator", "op"), "--accept-shortfall", "-1", expect=2
    )
    launched = cli.json(
        "campaign", "launch", CID, "--key", cli.key("operator", "op"), "--accept-shortfall", "2", "--now", NOW
    )
    assert launched["accepted_shortfall"]["purchases"] == 2
    assert why(cli, "A-cn-5", CID)["P10"]["message"] == "not yet issued: the campaign has not run yet"
    cli.json("campaign", "run", CID, "--now", NOW)
    assert why(cli, "A-cn-1", CID)["P02"]["code"] == "per_account"
    assert why(cli, "A-cn-4", CID)["P05"]["message"] == (
        "the limit per serial S1 (1) was taken by purchase P01 (of account A-cn-1)"
    )
    budget = why(cli, "A-cn-5", CID)["P10"]
    assert (budget["code"], budget["position"], budget["of"]) == ("budget_exhausted", 4, 5)
    late = tmp_path / "late.csv"
    late.write_text(
        "purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n"
        "P11,A-cn-3,mi-1,S11,2011-09-15T10:00:00+08:00,999.00,CNY,completed,online\n",
        encoding="utf-8",
    )
    cli.json("import", "purchases", str(late))
    assert why(cli, "A-cn-3", CID)["P11"]["code"] == "not_yet_run"
