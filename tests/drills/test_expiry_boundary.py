"""Expiry at the boundary: one microsecond before its window ends an envelope opens and is not
expired; at the instant it ends it can no longer be opened and `grants expire` takes it back.
In a zone at a DST change, at UTC+14 and at UTC-12, with `--now` in various offsets."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.drills.conftest import db_name, figure, launch
from tests.e2e.test_cli import Pledge
from tests.support.data import write_files

US = timedelta(microseconds=1)
# (campaign id, zone, run at, claim window): each window ends on a hard instant of its zone.
CASES = [  # in time order, so each `grants expire` sees only the case at hand
    ("kiritimati", "Pacific/Kiritimati", "2021-09-01T23:59:59.999999+14:00", "1d"),
    ("utc-minus-12", "Etc/GMT+12", "2021-09-01T00:00:00-12:00", "1d"),
    # Ends 2021-11-07 01:30 EDT: the first of that night's two 01:30s (clocks go back at 02:00).
    ("ny-fall-back", "America/New_York", "2021-10-08T01:30:00-04:00", "30d"),
    # Ends 2022-03-27 01:30 UTC, 02:30 BST: London's 01:30 that day never happened.
    ("london-spring", "Europe/London", "2022-02-25T01:30:00+00:00", "30d"),
]


def shifted(instant: datetime, by: timedelta, zone: str) -> str:
    """The instant moved by ``by``, written in ``zone``'s offset at that moment."""
    return (instant + by).astimezone(ZoneInfo(zone)).isoformat()


def test_expiry_at_the_boundary(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.json("import", "accounts", str(accounts))
    cli.json("import", "purchases", str(purchases))
    checked: list[str] = []
    for campaign_id, zone, run_at, window in CASES:
        launch(
            cli,
            tmp_path,
            id=campaign_id,
            timezone=zone,
            group=campaign_id,  # its own promise group: each case pays the same purchases anew
            qualify={"purchased": {"from": "2011-09-01", "to": "2011-12-07"}, "rule": "true"},
            payout={"channel": "red_envelope", "claim_within": window},
        )
        run = cli.json("campaign", "run", campaign_id, "--now", run_at)
        assert run["issued"] >= 3, run
        grants = cli.json("grants", "list", "--campaign", campaign_id)["data"]
        ends = datetime.fromisoformat(grants[0]["expires_at"])
        assert ends == datetime.fromisoformat(run_at) + timedelta(days=int(window[:-1]))
        assert all(datetime.fromisoformat(g["expires_at"]) == ends for g in grants)
        first, second = grants[0]["id"], grants[1]["id"]
        # Before: --now in the campaign's zone, one microsecond before the end.
        before = shifted(ends, -US, zone)
        assert cli.json("grants", "expire", "--now", before)["expired"] == 0, (zone, before)
        assert cli.json("grants", "claim", first, "--now", before)["state"] == "claimed"
        # At the end, written in another offset (UTC-12 or UTC+14): the same instant.
        other = "Etc/GMT+12" if zone != "Etc/GMT+12" else "Pacific/Kiritimati"
        at = shifted(ends, timedelta(0), other)
        refused = cli.run("grants", "claim", second, "--now", at, expect=1)
        assert "expired" in refused.stderr, refused.stderr
        assert cli.json("grants", "expire", "--now", at)["expired"] == len(grants) - 1, (zone, at)
        after = shifted(ends, US, "UTC")
        assert cli.json("grants", "expire", "--now", after)["expired"] == 0
        checked.append(
            f"{zone} ends {grants[0]['expires_at']} (claim ok at -1µs, refused at 0, expired at 0)"
        )
    for campaign_id, *_ in CASES:
        counts = cli.json("campaign", "report", campaign_id)["grants"]
        assert counts["claimed"] == 1 and counts["issued"] == 0, (campaign_id, counts)
    ledger_ok = cli.json("ledger", "verify")["ok"]
    figure(
        f"expiry boundary [{db_name(db_url)}]: {'; '.join(checked)}; ledger {'ok' if ledger_ok else 'BROKEN'}"
    )
    assert ledger_ok
