"""Opened red envelopes on a fresh database, for the payout drill and the payouts benchmark."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pledge.bootstrap import App, FixedClock
from pledge.usecases.grants import claim_grant
from tests.drills.conftest import launch
from tests.e2e.test_cli import Pledge
from tests.support.billing import us
from tests.support.pages import every_page

CID = "founders-refund"


def open_envelopes(
    cli: Pledge, folder: Path, grants: int, *, payout: dict[str, Any], benefit: dict[str, Any], now: str
) -> list[dict[str, Any]]:
    """Generated accounts, each with an openid (``o-<account>``); the campaign launched paying by
    ``payout`` and run; up to ``grants`` envelopes opened. Returns the opened grants as JSON."""
    data = cli.json("generate", str(folder / "data"), "--purchases", str(grants * 2), "--seed", "17")
    accounts = Path(data["accounts_file"])
    with accounts.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    with accounts.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, [*rows[0], "wechat_openid"])
        writer.writeheader()
        writer.writerows({**row, "wechat_openid": f"o-{row['account_id']}"} for row in rows)
    cli.run("init")
    cli.json("import", "accounts", str(accounts))
    cli.json("import", "purchases", data["purchases_file"])
    launch(cli, folder, payout=payout, benefit=benefit)
    cli.json("campaign", "run", CID, "--now", now)
    issued = every_page(
        lambda after: cli.json("grants", "list", "--campaign", CID, "--limit", "1000", *after)
    )
    app = App(cli.db_url)  # set-up only: thousands of claims, faster than one process each
    try:
        for grant in issued[:grants]:
            claim_grant(app.uow, FixedClock(us(now)), grant["id"])
    finally:
        app.close()
    return issued[:grants]
