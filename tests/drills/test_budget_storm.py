"""Budget storm: 4 racing `campaign run` processes and claimants at once spend a budget exactly."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx

from tests.drills.conftest import NOW, db_name, figure, launch, scaled, serving
from tests.e2e.test_cli import Pledge
from tests.integration.test_concurrency import finish, pledge

RUNNERS = 4
CLAIMANTS = 8
ENVELOPE = "10.00"  # a fixed amount per envelope, so the budget buys exactly N of them


def claimant(url: str, secret: str, stop: threading.Event, claimed: list[str], errors: list[str]) -> None:
    """A customer who keeps opening whatever envelopes they have until told to stop."""
    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=url, timeout=120) as http:
        while True:
            last_pass = stop.is_set()
            for grant in http.get("/v1/grants", headers=auth).json().get("data", []):
                if grant["state"] != "issued":
                    continue
                response = http.post(f"/v1/grants/{grant['id']}/claim", headers=auth)
                if response.status_code == 200:
                    claimed.append(grant["id"])
                elif response.status_code != 429:
                    errors.append(f"{response.status_code} {response.text}")
            if last_pass:
                return
            time.sleep(0.2)


def watcher(url: str, secret: str, stop: threading.Event, remaining: list[int]) -> None:
    """Finance watching the budget while it is spent: it must never be seen below zero."""
    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=url, timeout=120) as http:
        while not stop.is_set():
            report = http.get("/v1/campaigns/founders-refund/report", headers=auth).json()
            remaining.append(int(Decimal(report["budget_remaining"]) * 100))
            time.sleep(0.1)


def test_budget_storm_spends_exactly_the_budget(db_url: str, tmp_path: Path) -> None:
    envelopes = scaled(400, 4_000)
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    data = cli.json("generate", str(tmp_path / "data"), "--purchases", str(envelopes * 3), "--seed", "7")
    cli.json("import", "accounts", data["accounts_file"])
    cli.json("import", "purchases", data["purchases_file"])
    budget = f"{envelopes * 10}.00"
    benefit = {"kind": "cashback", "amount": ENVELOPE}
    launch(cli, tmp_path, accept_shortfall=True, budget=budget, benefit=benefit)
    customers = [
        str(cli.json("keys", "create", "--scope", "customer", "--name", a, "--account", a)["secret"])
        for a in (f"A{n:07d}" for n in range(1, CLAIMANTS + 1))
    ]
    finance = cli.key("finance", "fin")
    stop = threading.Event()
    claimed: list[str] = []
    errors: list[str] = []
    remaining: list[int] = []
    with serving(db_url, tmp_path) as url:
        threads = [
            threading.Thread(target=claimant, args=(url, secret, stop, claimed, errors))
            for secret in customers
        ]
        threads.append(threading.Thread(target=watcher, args=(url, finance, stop, remaining)))
        for thread in threads:
            thread.start()
        runs = [
            pledge(db_url, tmp_path, "campaign", "run", "founders-refund", "--json", "--now", NOW)
            for _ in range(RUNNERS)
        ]
        results = [finish(run) for run in runs]
        stop.set()
        for thread in threads:
            thread.join()

    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    issued = [json.loads(out)["issued"] for _, out, _ in results]
    report = cli.json("campaign", "report", "founders-refund")
    grants = sum(report["grants"].values())
    ledger_ok = cli.json("ledger", "verify")["ok"]
    figure(
        f"budget storm [{db_name(db_url)}]: budget for {envelopes} envelopes, {RUNNERS} runs issued "
        f"{issued}, {grants} grants, {len(claimed)} claimed meanwhile, budget low {min(remaining, default=0)}"
        f" minor over {len(remaining)} looks, remaining {report['budget_remaining']}, "
        f"ledger {'ok' if ledger_ok else 'BROKEN'}"
    )
    assert not errors, errors[:3]
    assert sum(issued) == grants == envelopes
    assert report["issued_amount"] == budget and report["budget_remaining"] == "0.00"
    assert min(remaining, default=0) >= 0
    assert report["grants"].get("claimed", 0) == len(claimed)
    assert ledger_ok
