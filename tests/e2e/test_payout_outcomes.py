"""What becomes of a grant as its payout goes (ADR 27), through the CLI and the API, on SQLite and
PostgreSQL, against the fake WeChat Pay on loopback: grant states paying, paid and payout_failed;
signed completion callbacks delivered twice, out of order and forged; a bill the customer never
confirmed re-offered under a new bill number while the claim window is open, its value returned to
the budget once it has closed; and campaign report's paid, in-transit and failed amounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from pledge.domain.money import parse_minor
from tests.e2e.test_cli import NOW, Pledge
from tests.e2e.test_cli_payouts import CID, SPLIT, _json, _launched, pledge  # noqa: F401 - fixture
from tests.integration.test_payout_rails import Wechat, keys, wechat  # noqa: F401 - fixtures
from tests.support.serve import pledge_serve

PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "rail": "wechat_transfer", "split": SPLIT}
AFTER_WINDOW = "2021-09-15T12:00:00+08:00"  # the envelopes were issued on 2021-08-10 with 30 days


def _grant(cli: Pledge, grant_id: str) -> dict[str, Any]:
    (found,) = [g for g in cli.json("grants", "list", "--campaign", CID)["data"] if g["id"] == grant_id]
    return dict(found)


def _transfers(cli: Pledge, grant_id: str) -> list[dict[str, Any]]:
    return list(cli.json("payouts", "list", "--grant", grant_id)["data"])


def test_callbacks_duplicated_out_of_order_or_forged_agree_with_sync(
    pledge: Pledge,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    wechat: Wechat,  # noqa: F811
) -> None:
    cli, provider, env = pledge, wechat.provider, wechat.env
    grants = _launched(cli, tmp_path, payout=PAYOUT)
    grant = grants["P01"]
    cli.json("grants", "claim", grant, "--now", NOW)
    assert _grant(cli, grant)["state"] == "claimed"
    provider.fates = ["SUCCESS"] * 4 + ["FAIL:ACCOUNT_FROZEN"]
    assert _json(cli, env, "payouts", "run", "--now", NOW)["submitted"] == 5
    assert _grant(cli, grant)["state"] == "paying"
    report = cli.json("campaign", "report", CID)
    assert (report["in_transit_amount"], report["paid_amount"]) == ("999.50", "0.00")
    provider.settle()  # WeChat pays four, refuses one, and sends its five notices
    notices = list(provider.callbacks)
    assert len(notices) == 5

    with pledge_serve(cli.db_url, tmp_path, env=env) as url:
        hook = f"{url}/v1/payouts/callbacks/wechat"
        body = notices[0][1]
        headers = provider.signed(body)
        forged = body.replace(b"MCHTRANSFER", b"MCHTRANSFEr")
        assert httpx.post(hook, content=forged, headers=headers).status_code == 401
        wrong_key = provider.signed(body, wrong_key=True)
        refused = httpx.post(hook, content=body, headers=wrong_key)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "payout_callback_signature"
        assert {t["state"] for t in _transfers(cli, grant)[:5]} == {"submitted"}  # no effect
        for _headers, body in [*reversed(notices), *notices]:  # out of order, then every one again
            # Signed as WeChat signs each delivery, now: a signature over 5 minutes old is refused.
            assert httpx.post(hook, content=body, headers=provider.signed(body)).status_code == 204

    states = [(t["state"], t["reason"], t["attempt"]) for t in _transfers(cli, grant)]
    assert states[:5] == [("succeeded", "", 1)] * 4 + [("failed", "ACCOUNT_FROZEN", 1)]
    assert _grant(cli, grant)["state"] == "payout_failed"
    queue = cli.json("payouts", "list", "--state", "failed")["data"]  # customer service's queue
    assert [(t["grant_id"], t["reason"]) for t in queue] == [(grant, "ACCOUNT_FROZEN")]
    synced = _json(cli, env, "payouts", "sync", "--now", NOW)  # sync agrees: nothing left to ask
    assert (synced["succeeded"], synced["failed"]) == (0, 0)
    report = cli.json("campaign", "report", CID)
    assert (report["paid_amount"], report["in_transit_amount"], report["failed_amount"]) == (
        "799.60",
        "0.00",
        "199.90",
    )
    assert report["grants"]["payout_failed"] == 1
    assert provider.paid["o-openid-A-cn-1"] == 4 * 19_990
    assert cli.json("ledger", "verify")["ok"] is True

    clean, faulty = tmp_path / "clean.csv", tmp_path / "faulty.csv"
    provider.statement(clean, "2021-08-10")
    provider.statement(faulty, "2021-08-10", drop=1, surplus=1, alter=1)
    reconcile = ("payouts", "reconcile", "--rail", "wechat_transfer", "--statement")
    agreed = cli.json(*reconcile, str(clean))
    assert (agreed["matched"], agreed["differences"]) == (4, 0)
    found = cli.json(*reconcile, str(faulty))
    assert found["matched"] == 2
    assert [d["amount"] for d in found["missing_at_provider"]] == ["199.90"]
    assert [d["reference"] for d in found["missing_in_ledger"]] == ["gx" + "0" * 29]
    assert [(d["ours"], d["theirs"]) for d in found["amount_mismatch"]] == [("199.90", "199.91")]
    assert _transfers(cli, grant)[0]["state"] == "succeeded"  # reconcile changes nothing
    bad = tmp_path / "bad.csv"
    bad.write_text("reference,amount,currency,state,finished_at\nx,1.2.3,CNY,SUCCESS,2021-08-10\n")
    refused = cli.run(*reconcile, str(bad), expect=2)
    assert "line 2" in refused.stderr and "amount" in refused.stderr


def test_an_unconfirmed_bill_is_reoffered_under_a_new_number_until_the_window_closes(
    pledge: Pledge,  # noqa: F811
    tmp_path: Path,
    wechat: Wechat,  # noqa: F811
) -> None:
    cli, provider, env = pledge, wechat.provider, wechat.env
    grants = _launched(cli, tmp_path, payout=PAYOUT)
    grant = grants["P01"]
    cli.json("grants", "claim", grant, "--now", NOW)
    budget_before = cli.json("campaign", "report", CID)["budget_remaining"]
    provider.fates = ["WAIT_USER_CONFIRM", "WAIT_USER_CONFIRM"]
    assert _json(cli, env, "payouts", "run", "--now", NOW)["waiting_user"] == 2
    first, second = list(provider.bills)[:2]
    provider.settle()
    assert _json(cli, env, "payouts", "sync", "--now", NOW)["succeeded"] == 3

    provider.overdue_close(first)  # 24 h without the customer's confirmation
    assert _json(cli, env, "payouts", "sync", "--now", NOW)["failed"] == 1
    retry = _transfers(cli, grant)[0]
    assert (retry["state"], retry["attempt"], retry["reason"]) == ("pending", 2, "OVERDUE_CLOSE")
    assert retry["request_id"] != first  # a new bill number, never the old one again
    assert _json(cli, env, "payouts", "run", "--now", NOW)["submitted"] == 1
    assert retry["request_id"] in provider.bills and provider.bills[first]["state"] == "FAIL"
    provider.settle()
    assert _json(cli, env, "payouts", "sync", "--now", NOW)["succeeded"] == 1
    assert _grant(cli, grant)["state"] == "paying"  # day 2 and the unconfirmed second bill remain

    provider.overdue_close(second)  # and now the claim window has closed as well
    assert _json(cli, env, "payouts", "sync", "--now", AFTER_WINDOW)["failed"] == 1
    returned = _transfers(cli, grant)[1]
    assert (returned["state"], returned["attempt"], returned["reason"]) == ("returned", 1, "OVERDUE_CLOSE")
    assert _grant(cli, grant)["state"] == "payout_failed"
    report = cli.json("campaign", "report", CID)
    assert (report["paid_amount"], report["failed_amount"]) == ("799.60", "199.90")
    returned_minor = parse_minor(report["budget_remaining"], "CNY") - parse_minor(budget_before, "CNY")
    assert returned_minor == 19_990  # the unpaid bill's value is the budget's again
    assert cli.json("ledger", "verify")["ok"] is True
    assert provider.paid["o-openid-A-cn-1"] == 4 * 19_990
    assert all(n.startswith("gr") for n in provider.bills) and len(provider.bills) == 6
    assert [t["amount"] for t in cli.json("payouts", "list", "--state", "returned")["data"]] == ["199.90"]
