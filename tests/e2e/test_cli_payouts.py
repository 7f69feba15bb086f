"""``pledge payouts run|sync|list`` as a real process against the fake providers on loopback, on SQLite and
PostgreSQL (ADR 24): a lost answer is `unknown` until sync asks, nothing is credited twice, and a 1999.00
envelope on WeChat is paid as 10 x 199.90 over two local days."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import NOW, Pledge, write_campaign
from tests.fakes.loopback import serving
from tests.fakes.wallet_server import WalletHandler, WalletProvider
from tests.integration.test_payout_rails import Wechat, keys, wechat  # noqa: F401 - fixtures
from tests.support.data import ACCOUNTS, write_files

CID = "founders-refund"
SECRET = "wallet-secret"
NEXT_DAY = "2021-08-11T09:00:00+08:00"
COUNTS = ("submitted", "succeeded", "failed", "unknown", "waiting_user", "deferred")
SPLIT = {"max_per_transfer": "200.00", "max_per_account_day": "1000.00", "max_count_per_account_day": 10}


def _json(cli: Pledge, env: dict[str, str], *args: str) -> Any:
    return json.loads(cli.run(*args, "--json", env=env).stdout)


def _launched(cli: Pledge, folder: Path, **changes: Any) -> dict[str, str]:
    cli.json("campaign", "apply", str(write_campaign(folder, **changes)), "--key", cli.key("admin", "ops"))
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == 3
    return {g["purchase_id"]: g["id"] for g in cli.json("grants", "list", "--campaign", CID)["data"]}


@pytest.fixture
def pledge(db_url: str, tmp_path: Path) -> Pledge:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    # Every account has a WeChat openid: the wechat_transfer rail pays it.
    lines = ["account_id,region,registered_at,wechat_openid"]
    lines += [f"{a},{region},{at},o-openid-{a}" for a, region, at in ACCOUNTS]
    accounts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli.run("import", "accounts", str(accounts))
    cli.run("import", "purchases", str(purchases))
    return cli


@pytest.fixture
def wallet() -> Iterator[tuple[WalletProvider, dict[str, str]]]:
    provider = WalletProvider(secret=SECRET.encode())
    with serving(WalletHandler, provider) as url:
        yield provider, {"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": SECRET}


def test_a_lost_answer_is_unknown_until_sync_and_credited_once(
    pledge: Pledge, tmp_path: Path, wallet: tuple[WalletProvider, dict[str, str]]
) -> None:
    cli, (provider, env) = pledge, wallet
    grants = _launched(cli, tmp_path)
    for pid in ("P01", "P03"):
        cli.json("grants", "claim", grants[pid], "--now", NOW)
    provider.post_faults.append("apply_then_503")  # the first credit is applied, its answer lost
    ran = _json(cli, env, "payouts", "run", "--campaign", CID, "--now", NOW)
    assert {k: ran[k] for k in COUNTS} == {**dict.fromkeys(COUNTS, 0), "succeeded": 1, "unknown": 1}
    (lost,) = cli.json("payouts", "list", "--state", "unknown")["data"]
    assert set(lost) >= {"id", "grant_id", "account_id", "rail", "amount", "currency", "state", "attempts",
                         "due_on", "provider_ref", "reason"}  # fmt: skip
    assert (lost["rail"], lost["attempts"], lost["due_on"]) == ("wallet", 1, "2021-08-10")
    assert cli.json("ledger", "verify")["ok"] is True  # in transit, booked once

    synced = _json(cli, env, "payouts", "sync")
    assert (synced["succeeded"], synced["unknown"]) == (1, 0)
    assert sorted(provider.applied.values()) == [1, 1]  # no credit applied twice
    assert provider.balance_minor("A-cn-1") == 199_900 and provider.balance_minor("A-cn-2") == 179_900
    listed = cli.json("payouts", "list", "--campaign", CID)
    assert [t["state"] for t in listed["data"]] == ["succeeded", "succeeded"] and not listed["has_more"]
    assert _json(cli, env, "payouts", "run", "--now", NOW)["succeeded"] == 0  # nothing sent again
    assert cli.json("ledger", "verify")["ok"] is True
    assert "succeeded 0" in cli.run("payouts", "sync", env=env).stdout
    cli.json("grants", "claim", grants["P10"], "--now", NOW)
    refused = cli.run("payouts", "run", "--now", NOW, expect=2, env={"PLEDGE_WALLET_URL": ""})
    assert "PLEDGE_WALLET_URL" in refused.stderr
    # Refused before anything is planned.
    assert cli.json("payouts", "list", "--state", "pending")["data"] == []
    assert _json(cli, env, "payouts", "run", "--now", NOW)["succeeded"] == 1  # configured: P10 is paid


def test_a_1999_envelope_on_wechat_is_ten_transfers_over_two_days(
    pledge: Pledge,
    tmp_path: Path,
    wechat: Wechat,  # noqa: F811 - the fixture imported above
) -> None:
    cli, provider, env = pledge, wechat.provider, wechat.env
    payout = {"channel": "red_envelope", "claim_within": "30d", "rail": "wechat_transfer", "split": SPLIT}
    grants = _launched(cli, tmp_path, payout=payout)
    cli.json("grants", "claim", grants["P01"], "--now", NOW)

    first = _json(cli, env, "payouts", "run", "--now", NOW)
    assert (first["submitted"], first["deferred"]) == (5, 0)  # accepted: WeChat pays in the background
    plan = cli.json("payouts", "list", "--grant", grants["P01"])["data"]
    assert [t["amount"] for t in plan] == ["199.90"] * 10
    assert [t["due_on"] for t in plan] == ["2021-08-10"] * 5 + ["2021-08-11"] * 5
    provider.settle()
    assert _json(cli, env, "payouts", "sync", "--now", NOW)["succeeded"] == 5
    assert _json(cli, env, "payouts", "run", "--now", NOW)["submitted"] == 0  # day 2 is not due yet

    provider.next_day()
    second = _json(cli, env, "payouts", "run", "--now", NEXT_DAY)
    assert second["submitted"] == 5
    provider.settle()
    assert _json(cli, env, "payouts", "sync", "--now", NEXT_DAY)["succeeded"] == 5
    assert provider.paid["o-openid-A-cn-1"] == 199_900
    states = {t["state"] for t in cli.json("payouts", "list", "--grant", grants["P01"])["data"]}
    assert states == {"succeeded"}
    assert cli.json("ledger", "verify")["ok"] is True


def test_a_rail_rate_is_written_like_20_per_second(
    pledge: Pledge, tmp_path: Path, wallet: tuple[WalletProvider, dict[str, str]]
) -> None:
    cli, (provider, env) = pledge, wallet
    grants = _launched(cli, tmp_path)
    cli.json("grants", "claim", grants["P01"], "--now", NOW)
    bad = cli.run("payouts", "run", "--now", NOW, "--rate", "fast", expect=2, env=env)
    assert "rate: write a rate like 20/s" in bad.stderr
    unreadable = {**env, "PLEDGE_WALLET_RATE": "lots"}
    bad_env = cli.run("payouts", "run", "--now", NOW, expect=2, env=unreadable)
    assert "PLEDGE_WALLET_RATE: write a rate like 20/s" in bad_env.stderr
    assert cli.json("payouts", "list", "--state", "pending")["data"] == []  # refused before planning
    assert provider.arrivals == []
    paced = _json(cli, {**env, "PLEDGE_WALLET_RATE": "1/s"}, "payouts", "run", "--now", NOW, "--rate", "5/s")
    assert paced["succeeded"] == 1 and len(provider.arrivals) == 1
