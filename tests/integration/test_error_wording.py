"""What users read when something is refused names their own columns and shows instants and money
as they wrote them: never a storage name (``price_minor``, ``purchased_at_us``) or a raw microsecond
count. Representative errors of every kind, through the API and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_cli import Pledge
from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.support.data import ACCOUNTS, PURCHASES, campaign, write_files

# Storage names, and epoch ms/µs counts (a phone number in E.164, "+8613800138000", is not one).
LEAK = re.compile(r"\b\w+_us\b|\b\w+_minor\b|(?<![+\d])\d{13,}\b")
DAY_US = 86_400 * 1_000_000
PURCHASE_HEADER = "purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n"


def _purchase(pid: str, account: str, at: str, price: str) -> str:
    return f"{pid},{account},mi-1,S-{pid},{at},{price},CNY,completed,online\n"


class Seen:
    """Every message and param a user was shown, to scan at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def error(self, response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        error = dict(response.json()["error"])
        self.texts += [error["message"], error["param"] or ""]
        return error

    def job_error(self, api: Api, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 202, response.text
        job = api.wait_job(response.json()["id"])
        assert job["status"] == "failed", job
        error = dict(job["error"])
        self.texts += [error["message"], error["param"] or ""]
        return error

    def leaks(self) -> list[str]:
        return [text for text in self.texts if LEAK.search(text)]


def test_bad_imports_name_the_columns_of_the_file(scenario: Api) -> None:
    seen = Seen()
    at, other = "2011-10-01T10:00:00+08:00", "2011-10-02T10:00:00+08:00"
    duplicate = (
        PURCHASE_HEADER + _purchase("X1", "A-cn-1", at, "1.00") + _purchase("X1", "A-cn-1", other, "2.00")
    )
    error = seen.job_error(scenario, scenario.upload("purchases", duplicate.encode()))
    assert error["code"] == "duplicate_id" and error["message"].endswith("a different purchased_at, price")
    # P01 again with another instant and price: a conflicting re-import.
    changed = PURCHASE_HEADER + _purchase("P01", "A-cn-1", other, "1.00")
    error = seen.job_error(scenario, scenario.upload("purchases", changed.encode()))
    assert error["code"] == "conflicting_reimport"
    assert "different serial, purchased_at, price" in error["message"], error
    assert error["param"] == "purchase_id P01: serial"
    accounts = "account_id,region,registered_at\n" + f"{ACCOUNTS[0][0]},CN,2012-01-01T00:00:00+08:00\n"
    error = seen.job_error(scenario, scenario.upload("accounts", accounts.encode()))
    assert "already exists with a different registered_at (" in error["message"]
    for body in (
        PURCHASE_HEADER + _purchase("X2", "A-cn-1", at, "19.999"),
        PURCHASE_HEADER + _purchase("X3", "A-cn-1", "2011-10-01T10:00:00", "1.00"),
        PURCHASE_HEADER + _purchase("X4", "nobody", at, "1.00"),
    ):
        seen.job_error(scenario, scenario.upload("purchases", body.encode()))
    contacts = "account_id,region,registered_at,phone\nC1,CN,2011-01-01T00:00:00+08:00,13800138000\n"
    seen.job_error(scenario, scenario.upload("accounts", contacts.encode()))
    assert seen.leaks() == []


def test_bad_campaign_files_and_refusals_read_as_people_write(scenario: Api) -> None:
    seen = Seen()
    for changes in (
        {"budget": "1.999"},
        {"benefit": {"kind": "cashback", "amount": "price_paid", "max_amount": "abc"}},
        {"qualify": {"purchased": {"from": "2011-12-07", "to": "2011-09-01"}, "rule": "true"}},
        {
            "qualify": {
                "purchased": {"from": "2011-09-01", "to": "2011-12-07"},
                "rule": 'purchase.price > "x"',
            }
        },
        {"qualify": {"purchased": {"from": "2011-09-01", "to": "2011-12-07"}, "rule": "purchase.prize > 1"}},
    ):
        seen.error(scenario.post("/v1/campaigns", "admin", campaign(id="bad-file", **changes)), 400)
    # Refusals: a draft cannot be launched or run; an envelope past its claim window cannot be opened.
    assert scenario.post("/v1/campaigns", "admin", campaign(id="draft-only")).status_code == 200
    seen.error(scenario.post("/v1/campaigns/draft-only/launch", "operator"), 409)
    seen.job_error(scenario, scenario.post("/v1/campaigns/draft-only/run", "operator"))
    grant = scenario.get("/v1/grants", "customer").json()["data"][0]
    scenario.clock.instant_us += 40 * DAY_US
    error = seen.error(scenario.post(f"/v1/grants/{grant['id']}/claim", "customer"), 409)
    assert error["code"] == "grant_expired"
    assert re.search(r"could be opened until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", error["message"]), error
    assert seen.leaks() == []


def test_explanations_show_money_and_instants_not_raw_integers(scenario: Api) -> None:
    rule = 'purchase.price >= 150000 && account.region == "CN" && purchase.purchased_at < ' + (
        'timestamp("2011-12-01T00:00:00+08:00")'
    )
    document = campaign(
        id="price-check", qualify={"purchased": {"from": "2011-09-01", "to": "2011-12-07"}, "rule": rule}
    )
    assert scenario.post("/v1/campaigns", "admin", document).status_code == 200
    explained = scenario.get("/v1/accounts/A-cn-2/eligibility", "support", campaign="price-check").json()
    details = [c["detail"] for p in explained["purchases"] for c in p["conditions"]]
    assert "purchase.price = 1799.00 CNY" in details
    assert "purchase.purchased_at = 2011-12-07T23:59:59+08:00" in details  # the campaign's zone
    assert [d for d in details if LEAK.search(d)] == []


def test_cli_errors_name_the_columns_of_the_file(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.run("import", "accounts", str(accounts))
    cli.run("import", "purchases", str(purchases))
    changed = tmp_path / "changed.csv"
    pid, account, _, serial, _, _, _ = PURCHASES[0]
    changed.write_text(
        PURCHASE_HEADER
        + f"{pid},{account},mi-1,{serial},2011-10-02T10:00:00+08:00,1.00,CNY,completed,online\n"
    )
    done = cli.run("import", "purchases", str(changed), expect=2)
    assert "already exists with a different purchased_at, price (" in done.stderr
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"id: b\nbudget: '1.999'\n{_rest_of_campaign()}")
    failed = cli.run("campaign", "apply", str(budget), "--key", cli.key("admin", "ops"), expect=2)
    assert [text for text in (done.stderr, failed.stderr) if LEAK.search(text)] == []


def _rest_of_campaign() -> str:
    import yaml

    document = campaign()
    del document["id"], document["budget"]
    return str(yaml.safe_dump(document, allow_unicode=True))
