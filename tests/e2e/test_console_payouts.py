"""Payouts on the pages, against the fake WeChat Pay on loopback (SQLite and PostgreSQL): customer
service's queue of failed transfers with the provider's reason, finance's reconciliation of a
statement (which changes nothing), and a customer told on /me that a transfer waits for them."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import httpx

from tests.e2e.test_cli import NOW, Pledge
from tests.e2e.test_cli_payouts import _json, _launched, pledge  # noqa: F401 - fixture
from tests.e2e.test_console import csrf_of
from tests.e2e.test_payout_outcomes import PAYOUT, _transfers
from tests.integration.test_payout_rails import Wechat, keys, wechat  # noqa: F401 - fixtures
from tests.support.serve import pledge_serve


def signed_in(url: str, key: str, base: str = "/console") -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    page = client.get(f"{base}/sign-in")
    signed = client.post(f"{base}/sign-in", data={"csrf": csrf_of(page.text), "key": key, "next": f"{base}/"})
    assert signed.status_code in (200, 303), signed.text
    return client


def test_failures_reconciliation_and_a_transfer_waiting_for_the_customer(
    pledge: Pledge,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    wechat: Wechat,  # noqa: F811
) -> None:
    cli, provider, env = pledge, wechat.provider, wechat.env
    grants = _launched(cli, tmp_path, payout=PAYOUT)
    frozen, waiting = grants["P01"], grants["P03"]
    for grant in (frozen, waiting):
        cli.json("grants", "claim", grant, "--now", NOW)
    # P01's day: four paid, one refused for good; then P03's first bill waits for the customer.
    provider.fates = ["SUCCESS"] * 4 + ["FAIL:ACCOUNT_FROZEN"] + ["WAIT_USER_CONFIRM"] + ["SUCCESS"] * 4
    _json(cli, env, "payouts", "run", "--now", NOW)
    provider.settle()
    _json(cli, env, "payouts", "sync", "--now", NOW)
    waiting_transfer = [t for t in _transfers(cli, waiting) if t["state"] == "waiting_user"]
    assert waiting_transfer, _transfers(cli, waiting)
    owner = next(g["account_id"] for g in cli.json("grants", "list")["data"] if g["id"] == waiting)
    finance = cli.key("finance", "fin.qian")
    customer = cli.json("keys", "create", "--scope", "customer", "--name", owner, "--account", owner)[
        "secret"
    ]
    statement = tmp_path / "statement.csv"
    provider.statement(statement, "2021-08-10", drop=1)
    before = _transfers(cli, frozen)

    with pledge_serve(cli.db_url, tmp_path, env=env) as url, closing(signed_in(url, finance)) as staff:
        queue = staff.get("/console/payouts")  # failed transfers first: customer service's queue
        assert queue.status_code == 200 and "ACCOUNT_FROZEN" in queue.text
        assert "Payouts" in queue.text and 'action="/console/payouts/reconcile"' in queue.text
        assert "waiting for the customer" in staff.get("/console/payouts?state=waiting_user").text
        token = csrf_of(queue.text)
        report = staff.post(
            "/console/payouts/reconcile",
            data={"csrf": token, "back": "/console/payouts", "rail": "wechat_transfer"},
            files={"statement": ("statement.csv", statement.read_bytes(), "text/csv")},
        )
        assert report.status_code == 200, report.text[:500]
        assert re.search(r'id="matched">\d+ transfers match', report.text)
        assert "Paid in our books, missing at the provider (1)" in report.text
        assert "没有差异" not in report.text
        chinese = staff.get("/console/payouts?lang=zh-CN")
        assert "打款" in chinese.text and "核对支付机构对账单" in chinese.text
        with closing(signed_in(url, customer, "/me")) as me:
            assert "is waiting for you to accept it in WeChat" in me.get("/me/").text
    assert _transfers(cli, frozen) == before  # reconciliation changed nothing
