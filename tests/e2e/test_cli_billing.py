"""Scenario B through the CLI as a real process: every command's --json keys (CONTRACT.md), exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.test_cli import Pledge
from tests.support.billing import (
    ACCOUNTS,
    BUY_AT,
    CAMPAIGN_ID,
    DIAMOND,
    EXTRA_DAYS,
    GOLD,
    NEW_ENDS_AT,
    PLATINUM,
    V1_ENDS_AT,
    offer,
    plans,
    write_files,
    write_yaml,
)

TERM_KEYS = (
    "id",
    "account_id",
    "plan",
    "price_paid",
    "starts_at",
    "ends_at",
    "terms_version",
    "auto_renew",
    "state",
)
QUOTE_KEYS = ("plan", "price", "currency", "starts_at", "ends_at", "terms_version", "renewal_price")
ITEM_KEYS = ("subscription_id", "account_id", "terms_version", "extra_days", "new_ends_at")
REPORT_KEYS = (
    "state",
    "budget",
    "issued_amount",
    "claimed_amount",
    "expired_amount",
    "budget_remaining",
    "grants",
)


def has_keys(document: dict[str, Any], keys: tuple[str, ...]) -> bool:
    missing = [key for key in keys if key not in document]
    assert not missing, f"missing {missing} in {document}"
    return True


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def setup(db_url: str, folder: Path) -> tuple[Pledge, dict[str, Path]]:
    cli = Pledge(db_url, folder)
    cli.run("init")
    files = write_files(folder)
    assert cli.json("import", "accounts", str(files["accounts"])) == {
        "imported": len(ACCOUNTS),
        "unchanged": 0,
        "updated": 0,
        "revoked": 0,
        "clawbacks": 0,
    }
    return cli, files


def test_scenario_b_through_the_cli(db_url: str, tmp_path: Path) -> None:
    cli, files = setup(db_url, tmp_path)
    applied = cli.json("plans", "apply", str(files["plans"]), "--actor", "ops")
    assert (applied["version"], applied["changed"]) == (1, True)
    assert cli.json("plans", "apply", str(files["plans"]), "--actor", "ops")["changed"] is False

    v1 = cli.json("campaign", "apply", str(files["v1"]), "--key", cli.key("admin", "ops"))
    assert (v1["id"], v1["version"], v1["changed"]) == (CAMPAIGN_ID, 1, True)
    approver, operator = cli.key("approver", "fin"), cli.key("operator", "op")
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", approver)
    cli.json("campaign", "launch", CAMPAIGN_ID, "--key", operator)

    quoted = cli.json("quote", "U02", PLATINUM, "--now", BUY_AT)
    assert has_keys(quoted, QUOTE_KEYS)
    assert (quoted["price"], quoted["currency"], quoted["ends_at"], quoted["terms_version"]) == (
        "252.00",
        "CNY",
        V1_ENDS_AT,
        1,
    )
    assert quoted["renewal_price"] == "252.00"

    terms: dict[str, dict[str, Any]] = {}
    for account, plan in (("U01", GOLD), ("U02", PLATINUM), ("U03", DIAMOND), ("U04", GOLD)):
        term = cli.json("subscriptions", "buy", account, plan, "--now", BUY_AT)
        assert has_keys(term, TERM_KEYS)
        assert (term["terms_version"], term["auto_renew"], term["state"]) == (1, False, "active")
        assert (term["starts_at"], term["ends_at"]) == (BUY_AT, V1_ENDS_AT)
        terms[account] = term
    assert cli.json("subscriptions", "buy", "U02", PLATINUM, "--now", BUY_AT) == terms["U02"]  # a retry

    assert cli.json("campaign", "apply", str(files["v2"]), "--key", cli.key("admin", "ops"))["version"] == 2
    refused = cli.run("campaign", "approve", CAMPAIGN_ID, "--key", cli.key("approver", "ops"), expect=1)
    assert "four_eyes" in one_line(refused.stderr)
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", approver)
    v2_quote = cli.json("quote", "U05", GOLD, "--now", "2023-11-04T09:00:00+08:00")
    assert (v2_quote["price"], v2_quote["terms_version"], v2_quote["renewal_price"]) == ("29.00", 2, "72.00")

    rebought = cli.json(
        "subscriptions", "refund", terms["U04"]["id"], "--repurchase", "--now", "2023-11-05T10:00:00+08:00"
    )
    assert has_keys(rebought, ("refunded", "charged", "net_refund", "subscription"))
    assert (rebought["refunded"], rebought["charged"], rebought["net_refund"]) == ("72.00", "29.00", "43.00")
    assert has_keys(rebought["subscription"], TERM_KEYS)
    assert (rebought["subscription"]["terms_version"], rebought["subscription"]["starts_at"]) == (2, BUY_AT)

    dry = cli.json("campaign", "compensate", CAMPAIGN_ID, "--dry-run", "--actor", "ops")
    assert dry["skipped"] == {"refunded": 1}
    for item in dry["items"]:
        assert has_keys(item, ITEM_KEYS)
    by_plan = {i["plan"]: i for i in dry["items"]}
    assert {p: i["extra_days"] for p, i in by_plan.items()} == EXTRA_DAYS
    assert by_plan[PLATINUM]["new_ends_at"] == NEW_ENDS_AT[PLATINUM] == "2026-02-25T10:00:00+08:00"
    assert by_plan[PLATINUM]["subscription_id"] == terms["U02"]["id"]
    done = cli.json(
        "campaign", "compensate", CAMPAIGN_ID, "--actor", "ops", "--now", "2023-11-06T09:00:00+08:00"
    )
    assert (done["applied"], done["items"]) == (3, dry["items"])
    again = cli.json("campaign", "compensate", CAMPAIGN_ID, "--actor", "ops")
    assert (again["applied"], again["items"]) == (0, [])

    renewing = cli.json(
        "subscriptions",
        "auto-renew",
        terms["U02"]["id"],
        "--on",
        "--actor",
        "U02",
        "--now",
        "2024-01-01T00:00:00+08:00",
    )
    assert has_keys(renewing, TERM_KEYS)
    assert (renewing["auto_renew"], renewing["ends_at"]) == (True, NEW_ENDS_AT[PLATINUM])
    assert [(c["auto_renew"], c["actor"]) for c in renewing["consents"]] == [(True, "U02")]

    listed = cli.json("subscriptions", "list")
    assert len(listed["data"]) == 5  # four bought, one repurchased
    for term in listed["data"]:
        assert has_keys(term, TERM_KEYS)
    assert [t["id"] for t in cli.json("subscriptions", "list", "--account", "U02")["data"]] == [
        terms["U02"]["id"]
    ]

    due = cli.json("subscriptions", "renew-due", "--now", "2027-06-01T00:00:00+08:00")
    assert due == {"renewed": 2, "lapsed": 3, "dry_run": False, "changed": 5}
    platinum = [
        t for t in cli.json("subscriptions", "list", "--account", "U02")["data"] if t["state"] == "active"
    ]
    assert [(t["kind"], t["price_paid"], t["starts_at"]) for t in platinum] == [
        ("renewal", "252.00", "2027-02-25T10:00:00+08:00")
    ]
    refunded = cli.json("subscriptions", "refund", platinum[0]["id"], "--now", "2027-06-01T00:00:00+08:00")
    assert (refunded["refunded"], refunded["charged"], refunded["net_refund"]) == ("252.00", "0.00", "252.00")
    assert refunded["subscription"]["state"] == "refunded"

    report = cli.json("campaign", "report", CAMPAIGN_ID)
    assert report["state"] == "active"
    assert {c["plan"]: c["days"] for c in report["compensation"]} == EXTRA_DAYS
    verified = cli.json("ledger", "verify")
    assert verified["ok"] is True, verified


def test_campaign_report_on_an_offer_campaign_keeps_the_contract_keys(
    sqlite_url: str, tmp_path: Path
) -> None:
    cli, files = setup(sqlite_url, tmp_path)
    cli.json("plans", "apply", str(files["plans"]), "--actor", "ops")
    cli.json("campaign", "apply", str(files["v1"]), "--key", cli.key("admin", "ops"))
    assert has_keys(cli.json("campaign", "report", CAMPAIGN_ID), REPORT_KEYS)


def test_bad_input_exits_2_and_refusals_exit_1(sqlite_url: str, tmp_path: Path) -> None:
    cli, files = setup(sqlite_url, tmp_path)
    floated = plans()
    floated["plans"][0]["list_price"] = 72.0  # unquoted in YAML: a float, never guessed
    bad = cli.run("plans", "apply", str(write_yaml(tmp_path / "float.yaml", floated)), expect=2)
    assert "plans[0].list_price" in one_line(bad.stderr)
    refused = cli.run("campaign", "apply", str(files["v1"]), "--key", cli.key("admin", "ops"), expect=1)
    assert "no_catalog" in one_line(refused.stderr)
    cli.json("plans", "apply", str(files["plans"]), "--actor", "ops")
    usd = cli.run("plans", "apply", str(write_yaml(tmp_path / "usd.yaml", plans(currency="USD"))), expect=1)
    assert "currency_locked" in one_line(usd.stderr)

    naive = offer(2)
    naive["terms"]["effective"] = "2023-11-03T12:00:00"
    bad = cli.run(
        "campaign",
        "apply",
        str(write_yaml(tmp_path / "naive.yaml", naive)),
        "--key",
        cli.key("admin", "ops"),
        expect=2,
    )
    assert "terms.effective" in one_line(bad.stderr) and "offset" in bad.stderr
    unquoted = tmp_path / "unquoted.yaml"  # YAML's own timestamp, without an offset
    unquoted.write_text(
        files["v2"].read_text(encoding="utf-8").replace("'2023-11-03T12:00:00+08:00'", "2023-11-03 12:00:00"),
        encoding="utf-8",
    )
    assert "2023-11-03 12:00:00" in unquoted.read_text(encoding="utf-8")
    bad = cli.run("campaign", "apply", str(unquoted), "--key", cli.key("admin", "ops"), expect=2)
    assert "terms.effective" in one_line(bad.stderr)
    unknown = offer(1, applies_to=[GOLD, "cloud-silver-1gb"])
    bad = cli.run(
        "campaign",
        "apply",
        str(write_yaml(tmp_path / "unknown.yaml", unknown)),
        "--key",
        cli.key("admin", "ops"),
        expect=2,
    )
    assert "cloud-silver-1gb" in one_line(bad.stderr)

    assert "--now" in one_line(cli.run("quote", "U01", GOLD, "--now", "2023-11-01T10:00:00", expect=2).stderr)
    cli.run("subscriptions", "buy", "U01", "cloud-silver-1gb", "--now", BUY_AT, expect=1)  # unknown plan
    term = cli.json("subscriptions", "buy", "U01", GOLD, "--now", BUY_AT)
    cli.run("subscriptions", "refund", term["id"], "--repurchase", "--prorated", expect=2)
    cli.run("subscriptions", "auto-renew", term["id"], expect=2)  # --on or --off is required
    refused = cli.run("subscriptions", "refund", term["id"], "--repurchase", "--now", BUY_AT, expect=1)
    assert "no_campaign" in one_line(refused.stderr)
    cli.run("campaign", "compensate", CAMPAIGN_ID, "--policy", "bogus", expect=2)
    cli.run("campaign", "compensate", "no-such-campaign", expect=1)


def test_a_quote_or_purchase_for_an_unknown_account_is_refused(db_url: str, tmp_path: Path) -> None:
    """Exit 1 with account_not_found (the caller named something that does not exist), one line,
    nothing recorded."""
    cli, files = setup(db_url, tmp_path)
    cli.json("plans", "apply", str(files["plans"]), "--actor", "ops")
    for command in (("quote", "NOPE", PLATINUM), ("subscriptions", "buy", "NOPE", PLATINUM)):
        refused = cli.run(*command, "--now", BUY_AT, expect=1)
        assert one_line(refused.stderr) == (
            "error [account_not_found]: account NOPE is not known; import it first"
        )
    assert cli.json("subscriptions", "list")["data"] == []
    assert cli.json("quote", "U01", PLATINUM, "--now", BUY_AT)["price"] == "252.00"


def test_refund_and_repurchase_after_compensation_takes_the_days_back(db_url: str, tmp_path: Path) -> None:
    """PRODUCT.md: the customer's choice stays open after compensation. Net money P_old - P_new; the
    300 extra days go back to the campaign's compensation; the report and the ledger agree."""
    cli, files = setup(db_url, tmp_path)
    cli.json("plans", "apply", str(files["plans"]), "--actor", "ops")
    author, approver = cli.key("admin", "ops"), cli.key("approver", "fin")
    cli.json("campaign", "apply", str(files["v1"]), "--key", author)
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", approver)
    cli.json("campaign", "launch", CAMPAIGN_ID, "--key", cli.key("operator", "op"))
    platinum = cli.json("subscriptions", "buy", "U02", PLATINUM, "--now", BUY_AT)
    gold = cli.json("subscriptions", "buy", "U01", GOLD, "--now", BUY_AT)
    cli.json("campaign", "apply", str(files["v2"]), "--key", author)
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", approver)
    compensated = cli.json("campaign", "compensate", CAMPAIGN_ID, "--now", "2023-11-05T10:00:00+08:00")
    assert {i["plan"]: i["extra_days"] for i in compensated["items"]} == {
        PLATINUM: EXTRA_DAYS[PLATINUM],
        GOLD: EXTRA_DAYS[GOLD],
    }

    done = cli.json(
        "subscriptions", "refund", platinum["id"], "--repurchase", "--now", "2023-11-06T10:00:00+08:00"
    )
    assert (done["refunded"], done["charged"], done["net_refund"]) == ("252.00", "109.00", "143.00")
    assert done["compensation_days_returned"] == EXTRA_DAYS[PLATINUM]
    assert (done["refunded_term"]["state"], done["refunded_term"]["compensated_days"]) == ("refunded", 0)
    rebought = done["subscription"]
    assert (rebought["kind"], rebought["terms_version"], rebought["starts_at"], rebought["ends_at"]) == (
        "repurchase",
        2,
        BUY_AT,
        "2024-11-01T10:00:00+08:00",
    )
    assert rebought["auto_renew"] is False
    again = cli.run(
        "subscriptions",
        "refund",
        platinum["id"],
        "--repurchase",
        "--now",
        "2023-11-07T10:00:00+08:00",
        expect=1,
    )
    assert "term_refunded" in one_line(again.stderr)
    assert cli.json("campaign", "compensate", CAMPAIGN_ID)["applied"] == 0  # nothing is owed twice

    report = {c["plan"]: c for c in cli.json("campaign", "report", CAMPAIGN_ID)["compensation"]}
    assert (report[PLATINUM]["days"], report[PLATINUM]["days_returned"]) == (0, EXTRA_DAYS[PLATINUM])
    assert (report[GOLD]["days"], report[GOLD]["days_returned"]) == (EXTRA_DAYS[GOLD], 0)
    verified = cli.json("ledger", "verify")
    assert verified["ok"] is True, verified["problems"]
    assert verified["campaigns"] == [{"campaign": CAMPAIGN_ID, "compensation_days": EXTRA_DAYS[GOLD]}]
    human = cli.run("subscriptions", "refund", gold["id"], "--now", "2023-11-08T10:00:00+08:00").stdout
    assert f"{EXTRA_DAYS[GOLD]} compensation days taken back" in " ".join(human.split())
    assert cli.json("ledger", "verify")["ok"] is True
