"""Racing `campaign run` processes never overspend a budget or pay anyone twice."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pledge.adapters.files.generate import generate
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.usecases.ledger_verify import verify_ledger
from tests.support import cli_forkserver
from tests.support.data import campaign

NOW = "2021-08-10T12:00:00+08:00"


def pledge(db_url: str, cwd: Path, *args: str) -> cli_forkserver.Process:
    env = {**os.environ, "PLEDGE_DATABASE_URL": db_url}
    return cli_forkserver.start([*args], cwd=cwd, env=env)


def finish(proc: cli_forkserver.Process) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@pytest.mark.parametrize("runners", [4])
def test_racing_runs_issue_each_grant_once_within_budget(db_url: str, tmp_path: Path, runners: int) -> None:
    data = generate(tmp_path, purchases=6_000, seed=7, fmt="csv")
    budget = "3000000.00"  # about 1,500 envelopes: the budget runs out mid-run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(campaign(budget=budget)), encoding="utf-8")
    steps = [
        ("init",),
        ("import", "accounts", str(data.accounts_path)),
        ("import", "purchases", str(data.purchases_path)),
    ]
    for step in steps:
        code, _, err = finish(pledge(db_url, tmp_path, *step))
        assert code == 0, err
    apply = (
        "campaign",
        "apply",
        str(tmp_path / "c.yaml"),
        "--key",
        cli_key(db_url, tmp_path, "admin", "ops"),
    )
    code, _, err = finish(pledge(db_url, tmp_path, *apply))
    assert code == 0, err
    approve_and_launch(db_url, tmp_path, "founders-refund", accept_shortfall=True)
    procs = [
        pledge(db_url, tmp_path, "campaign", "run", "founders-refund", "--json", "--now", NOW)
        for _ in range(runners)
    ]
    results = [finish(p) for p in procs]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    issued = [json.loads(out)["issued"] for _, out, _ in results]
    assert sum(1 for n in issued if n > 0) == 1, issued  # one run issued; the others found nothing left

    app = App(db_url)
    try:
        with app.engine.connect() as conn:
            remaining = conn.execute(text("SELECT remaining_minor FROM budgets")).scalar_one()
            spent = conn.execute(text("SELECT SUM(amount_minor) FROM grants")).scalar_one()
            dupes = conn.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT account_id FROM grants GROUP BY account_id "
                    "HAVING COUNT(*) > 1) d"
                )
            ).scalar_one()
        assert remaining >= 0
        assert spent + remaining == 300_000_000
        assert dupes == 0
        assert verify_ledger(app.uow).ok
    finally:
        app.close()


def cli_key(db_url: str, cwd: Path, scope: str, name: str) -> str:
    code, out, err = finish(pledge(db_url, cwd, "keys", "create", "--scope", scope, "--name", name, "--json"))
    assert code == 0, err
    return str(json.loads(out)["secret"])


def approve_and_launch(db_url: str, cwd: Path, campaign_id: str, *, accept_shortfall: bool = False) -> None:
    """Approve with the approver's own key, launch with the operator's; accept the dry run's shortfall."""
    approve = ("campaign", "approve", campaign_id, "--key", cli_key(db_url, cwd, "approver", "finance"))
    code, _, err = finish(pledge(db_url, cwd, *approve))
    assert code == 0, err
    launch = [
        "campaign",
        "launch",
        campaign_id,
        "--key",
        cli_key(db_url, cwd, "operator", "op"),
        "--now",
        NOW,
    ]
    if accept_shortfall:
        code, out, err = finish(pledge(db_url, cwd, "campaign", "simulate", campaign_id, "--json"))
        assert code == 0, err
        launch += ["--accept-shortfall", str(json.loads(out)["budget_exhausted"])]
    code, _, err = finish(pledge(db_url, cwd, *launch))
    assert code == 0, err


def test_racing_campaigns_of_one_group_pay_each_purchase_once(db_url: str, tmp_path: Path) -> None:
    """Two campaigns of one promise group run at once: the group's lock makes them take turns, so
    the second sees what the first paid (ADR 15)."""
    data = generate(tmp_path, purchases=3_000, seed=11, fmt="csv")
    for step in (
        ("init",),
        ("import", "accounts", str(data.accounts_path)),
        ("import", "purchases", str(data.purchases_path)),
    ):
        code, _, err = finish(pledge(db_url, tmp_path, *step))
        assert code == 0, err
    for campaign_id in ("wave-1", "wave-2"):
        (tmp_path / f"{campaign_id}.yaml").write_text(
            yaml.safe_dump(campaign(id=campaign_id)), encoding="utf-8"
        )
        author = cli_key(db_url, tmp_path, "admin", "ops")
        apply = ("campaign", "apply", str(tmp_path / f"{campaign_id}.yaml"), "--key", author)
        code, _, err = finish(pledge(db_url, tmp_path, *apply))
        assert code == 0, err
        approve_and_launch(db_url, tmp_path, campaign_id)
    procs = [
        pledge(db_url, tmp_path, "campaign", "run", campaign_id, "--json", "--now", NOW)
        for campaign_id in ("wave-1", "wave-2", "wave-1", "wave-2")
    ]
    results = [finish(p) for p in procs]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    app = App(db_url)
    try:
        with app.engine.connect() as conn:
            total = conn.execute(text("SELECT COUNT(*) FROM grants")).scalar_one()
            twice = conn.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT purchase_id FROM grants GROUP BY purchase_id "
                    "HAVING COUNT(*) > 1) d"
                )
            ).scalar_one()
        assert total > 100 and twice == 0
        assert verify_ledger(app.uow).ok
    finally:
        app.close()


def test_the_database_refuses_a_negative_budget(db_url: str) -> None:
    app = App(db_url)
    try:
        upgrade(app.engine)
        with app.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO campaigns (campaign_id, kind, state, currency, created_at_us, issue_seq) "
                    "VALUES ('c', 'cashback', 'active', 'CNY', 0, 0)"
                )
            )
            conn.execute(text("INSERT INTO budgets VALUES ('c', 'CNY', 100, 100)"))
        with app.uow() as uow:
            assert uow.budgets.adjust("c", -101) is False
            assert uow.budgets.adjust("c", -100) is True
        with pytest.raises(IntegrityError), app.engine.begin() as conn:
            conn.execute(text("UPDATE budgets SET remaining_minor = -1"))
    finally:
        app.close()
