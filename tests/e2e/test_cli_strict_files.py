"""Misspelt keys and hostile YAML, through the real CLI on SQLite and PostgreSQL: exit 2, nothing stored."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_cli import Pledge, write_campaign
from tests.support.data import campaign
from tests.unit.test_documents import BOMB


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Pledge:
    pledge = Pledge(db_url, tmp_path)
    pledge.run("init")
    return pledge


def _nothing_stored(cli: Pledge) -> None:
    listed = cli.run("campaign", "report", "founders-refund", "--json", expect=1)
    assert "founders-refund" in listed.stderr


@pytest.mark.parametrize(
    ("section", "wrong", "right"),
    [
        ("limits", "per_acount", "per_account"),
        ("benefit", "max_amout", "max_amount"),
        ("payout", "claim_whithin", "claim_within"),
        ("payout", "chanel", "channel"),
    ],
)
def test_a_misspelt_campaign_key_is_refused_with_exit_2_and_nothing_applied(
    cli: Pledge, tmp_path: Path, section: str, wrong: str, right: str
) -> None:
    document: dict[str, Any] = campaign()
    document[section] = {**document[section], wrong: document[section].pop(right)}
    path = write_campaign(tmp_path, **{section: document[section]})
    done = cli.run("campaign", "apply", str(path), "--key", cli.key("admin", "ops"), expect=2)
    assert done.stderr.strip() == (
        f"error [unknown_field]: {section}.{wrong}: unknown field; did you mean {right}?"
    )
    _nothing_stored(cli)


def test_the_billion_laughs_is_refused_at_once(cli: Pledge, tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_bytes(BOMB)
    started = time.monotonic()
    done = cli.run("campaign", "apply", str(path), "--key", cli.key("admin", "ops"), expect=2)
    assert time.monotonic() - started < 30  # a process start; the expansion alone would take hours
    assert (
        done.stderr.strip()
        == f"error [invalid_yaml]: {path} line 1: anchor &a refused: files may not use anchors"
    )
    _nothing_stored(cli)


def test_misspelt_plans_and_offer_keys_are_refused(cli: Pledge, tmp_path: Path) -> None:
    plans = tmp_path / "plans.yaml"
    plans.write_text(
        yaml.safe_dump(
            {
                "currency": "CNY",
                "plans": [{"id": "gold", "name": "Gold", "list_prise": "72.00", "period": "1 year"}],
            }
        ),
        encoding="utf-8",
    )
    done = cli.run("plans", "apply", str(plans), expect=2)
    assert "plans[0].list_prise: unknown field; did you mean list_price?" in done.stderr
    offer = tmp_path / "offer.yaml"
    offer.write_text(
        "id: o\nname: O\nkind: offer\ntimezone: Asia/Shanghai\ncurrency: CNY\napplies_to: [gold]\n"
        "sale: {from: '2023-10-31', to: '2023-11-11'}\n"
        "terms: {effective: '2023-10-31T00:00:00+08:00', offer: {type: bonus_period, bonuss: 6 months}}\n",
        encoding="utf-8",
    )
    done = cli.run("campaign", "apply", str(offer), "--key", cli.key("admin", "ops"), expect=2)
    assert "terms.offer.bonuss: unknown field; did you mean bonus?" in done.stderr


def test_pledge_schemas_writes_the_published_files(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pledge", "schemas", "--out", str(tmp_path / "schemas")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    published = Path(__file__).resolve().parents[2] / "docs" / "schemas"
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert written == sorted(p.name for p in published.iterdir())
    for name in written:
        assert (tmp_path / "schemas" / name).read_text() == (published / name).read_text()
