"""Scenario B over HTTP on SQLite and PostgreSQL: plans, offers, quotes, subscriptions, compensation.

The worked example of PRODUCT.md (Platinum +300 days to 2026-02-25, Gold +362,
Diamond +703) through the compensate job; customers confined to their own
account (404 for anyone else's); purchases that a retry with the same
Idempotency-Key does not repeat; webhook events and audit entries for every
change.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_api_support import Api, api_fixture  # noqa: F401 - fixtures
from tests.support.billing import (
    BUY_AT,
    CAMPAIGN_ID,
    DIAMOND,
    EXTRA_DAYS,
    GOLD,
    NEW_ENDS_AT,
    PLAN_IDS,
    PLATINUM,
    V1_ENDS_AT,
    offer,
    plans,
    us,
    write_accounts,
)

PREPARED = "2023-10-20T09:00:00+08:00"
PUBLISHED = "2023-11-03T11:00:00+08:00"
COMPENSATED = "2023-11-04T09:00:00+08:00"
SCENARIO_B_EVENTS = ["compensation.applied", "subscription.renewed", "subscription.lapsed"]
# The worked example: U01 buys Gold, U02 Platinum, U03 Diamond, all under terms v1.
BUYERS = {plan: f"U0{n}" for n, plan in enumerate(PLAN_IDS, start=1)}


def at(api: Api, instant: str) -> None:
    api.clock.instant_us = us(instant)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"type", "code", "message", "param"}
    return dict(body)


@pytest.fixture
def billing(api: Api, tmp_path: Path) -> Api:
    """Accounts U01-U12 imported, the catalog applied, offer v1 applied, approved and launched.

    Customer keys ``U01``… act for those accounts; an endpoint listens for scenario B's events.
    """
    upload = api.upload("accounts", write_accounts(tmp_path).read_bytes())
    assert api.wait_job(ok(upload, 202)["id"])["status"] == "succeeded"
    now = time.time_ns() // 1_000
    for n in range(1, 6):
        api.add_key(f"U0{n}", "customer", f"U0{n}", now)
    ok(
        api.post(
            "/v1/webhook_endpoints", "admin", {"url": "http://127.0.0.1:9/h", "events": SCENARIO_B_EVENTS}
        )
    )
    at(api, PREPARED)
    body = yaml.safe_dump(plans(), sort_keys=False).encode()
    applied = ok(
        api.http.post(
            "/v1/plans", content=body, headers=api.headers("admin", Content_Type="application/yaml")
        )
    )
    assert (applied["object"], applied["version"], applied["changed"]) == ("catalog", 1, True)
    offer_v1 = yaml.safe_dump(offer(1), sort_keys=False).encode()
    created = api.http.post(
        "/v1/campaigns", content=offer_v1, headers=api.headers("admin", Content_Type="application/yaml")
    )
    assert (ok(created)["id"], created.json()["version"]) == (CAMPAIGN_ID, 1)
    assert ok(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/approve", "approver"))["state"] == "approved"
    assert ok(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/launch", "operator"))["state"] == "active"
    return api


def buy(api: Api, who: str, plan: str, account: str | None = None, **headers: str) -> Any:
    body: dict[str, Any] = {"plan": plan}
    if account is not None:
        body["account"] = account
    return api.post("/v1/subscriptions", who, body, **headers)


def publish_v2(api: Api) -> None:
    at(api, PUBLISHED)
    assert ok(api.post("/v1/campaigns", "admin", offer(2)))["version"] == 2
    assert ok(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/approve", "approver"))["version"] == 2


def events(api: Api, event_type: str) -> list[dict[str, Any]]:
    return list(ok(api.get("/v1/events", "finance", type=event_type, limit=100))["data"])


def test_scenario_b_over_http(billing: Api) -> None:
    api = billing
    # The catalog: the same plans as JSON change nothing; everyone may read it.
    again = ok(api.post("/v1/plans", "admin", plans()))
    assert (again["version"], again["changed"]) == (1, False)
    catalog = ok(api.get("/v1/plans", "U01"))
    assert (catalog["object"], catalog["catalog_version"], catalog["currency"]) == ("list", 1, "CNY")
    assert [(p["id"], p["list_price"]) for p in catalog["data"]] == [
        (GOLD, "72.00"),
        (PLATINUM, "252.00"),
        (DIAMOND, "816.00"),
    ]
    error(api.post("/v1/plans", "operator", plans()), 403)

    # Quotes and purchases under terms v1: list price, 12 + 6 months.
    at(api, BUY_AT)
    quote = ok(api.get("/v1/quotes", "U02", plan=PLATINUM))
    assert (quote["object"], quote["account_id"], quote["price"], quote["terms_version"]) == (
        "quote",
        "U02",
        "252.00",
        1,
    )
    assert quote["ends_at"] == V1_ENDS_AT
    terms = {}
    for plan, account in BUYERS.items():
        term = ok(buy(api, account, plan, Idempotency_Key=f"buy-{account}"))
        assert (term["account_id"], term["ends_at"], term["days"], term["terms_version"]) == (
            account,
            V1_ENDS_AT,
            547,
            1,
        )
        assert (term["auto_renew"], term["state"]) == (False, "active")
        terms[plan] = term

    # Terms v2 (campaign prices), approved by another key; dry run first.
    publish_v2(api)
    at(api, COMPENSATED)
    dry = ok(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "support", {"dry_run": True}))
    assert (dry["object"], dry["dry_run"], dry["applied"], dry["to_version"]) == (
        "compensation_run",
        True,
        0,
        2,
    )
    assert {i["plan"]: i["extra_days"] for i in dry["items"]} == EXTRA_DAYS
    assert {i["plan"]: i["new_ends_at"] for i in dry["items"]} == NEW_ENDS_AT
    assert not events(api, "compensation.applied")  # a dry run changes nothing
    # Customer service asks about one customer: that account's items, totals recomputed for it alone.
    one = ok(
        api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "support", {"dry_run": True, "account_id": "U02"})
    )
    assert [(i["account_id"], i["extra_days"]) for i in one["items"]] == [("U02", 300)]
    assert one["account_id"] == "U02"
    assert [(t["plan"], t["terms"], t["days"]) for t in one["totals"]] == [(PLATINUM, 1, 300)]
    platinum_total = next(t for t in dry["totals"] if t["plan"] == PLATINUM)
    assert one["totals"][0]["money_equivalent"] == platinum_total["money_equivalent"]
    # The whole campaign needs an operator key; customer service may only make one customer whole.
    assert error(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "support"), 403)["code"] == (
        "insufficient_scope"
    )

    started = ok(
        api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "operator", Idempotency_Key="comp-1"), 202
    )
    assert (started["object"], started["kind"]) == ("job", "campaign.compensate")
    job = api.wait_job(started["id"])
    assert job["status"] == "succeeded", job
    assert (job["result"]["applied"], job["result"]["items"]) == (3, dry["items"])
    assert job["progress"] == 3
    replayed = api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "operator", Idempotency_Key="comp-1")
    assert (replayed.json()["id"], replayed.headers["Idempotent-Replayed"]) == (started["id"], "true")
    one_customer = ok(
        api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "support", {"account_id": "U02"}), 202
    )
    assert api.wait_job(one_customer["id"])["result"]["applied"] == 0  # already made whole: never twice
    at(api, "2023-11-05T09:00:00+08:00")
    rerun = api.wait_job(ok(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "operator"), 202)["id"])
    assert (rerun["result"]["applied"], rerun["result"]["skipped"]) == (0, {"already_compensated": 3})

    after = {t["plan"]: t for t in ok(api.get("/v1/subscriptions", "finance", limit=100))["data"]}
    assert {p: t["ends_at"] for p, t in after.items()} == NEW_ENDS_AT
    assert after[PLATINUM]["ends_at"].startswith("2026-02-25")
    assert {p: t["compensated_days"] for p, t in after.items()} == EXTRA_DAYS
    assert after[PLATINUM]["days"] == 847  # ceil(252 x 366 / 109)
    applied_events = events(api, "compensation.applied")
    assert sorted(e["data"]["object"]["extra_days"] for e in applied_events) == sorted(EXTRA_DAYS.values())
    assert {e["data"]["object"]["subscription_id"] for e in applied_events} == {
        t["id"] for t in terms.values()
    }

    report = ok(api.get(f"/v1/campaigns/{CAMPAIGN_ID}/report", "finance"))
    assert (report["budget"], report["budget_remaining"]) == (None, None)
    assert {c["plan"]: (c["terms"], c["days"]) for c in report["compensation"]} == {
        plan: (1, days) for plan, days in EXTRA_DAYS.items()
    }

    # Platinum's customer opts in to auto-renew with their own key; the consent names that key.
    platinum = terms[PLATINUM]["id"]
    at(api, "2024-01-10T09:00:00+08:00")
    consent = ok(api.post(f"/v1/subscriptions/{platinum}/auto_renew", "U02", {"on": True}))
    assert consent["auto_renew"] is True
    assert api.key_ids["U02"] in consent["consents"][-1]["actor"]
    assert consent["consents"][-1]["wording"]
    error(api.post(f"/v1/subscriptions/{platinum}/auto_renew", "U02", {"on": "yes"}), 400)  # no coercion
    shown = ok(api.get(f"/v1/subscriptions/{platinum}", "support"))
    assert (shown["auto_renew"], len(shown["consents"])) == (True, 1)

    # Renewals: Platinum (opted in) renews at list price when it ends; Gold (not) lapses.
    at(api, "2026-03-01T00:00:00+08:00")
    renewal = api.wait_job(ok(api.post("/v1/subscriptions/renew_due", "operator"), 202)["id"])
    assert renewal["result"] == {
        "object": "renewal_run",
        "renewed": 1,
        "lapsed": 0,
        "dry_run": False,
        "changed": 1,
    }
    at(api, "2026-05-01T00:00:00+08:00")
    lapsing = api.wait_job(ok(api.post("/v1/subscriptions/renew_due", "operator"), 202)["id"])
    assert (lapsing["result"]["renewed"], lapsing["result"]["lapsed"]) == (0, 1)
    renewed = events(api, "subscription.renewed")
    assert [e["data"]["object"]["previous_term_id"] for e in renewed] == [platinum]
    assert (renewed[0]["data"]["object"]["price_paid"], renewed[0]["data"]["object"]["kind"]) == (
        "252.00",
        "renewal",
    )
    lapsed = events(api, "subscription.lapsed")
    assert [(e["data"]["object"]["id"], e["data"]["object"]["state"]) for e in lapsed] == [
        (terms[GOLD]["id"], "lapsed")
    ]
    mine = ok(api.get("/v1/subscriptions", "U02"))["data"]
    assert [(t["kind"], t["state"]) for t in sorted(mine, key=lambda t: t["starts_at"])] == [
        ("first", "renewed"),
        ("renewal", "active"),
    ]

    # Every change is audited, with the key that made it; the books and the audit chain hold.
    audit = ok(api.get("/v1/audit", "finance", limit=100))["data"]
    actions = {e["action"] for e in audit}
    for action in (
        "plans.apply",
        "campaign.apply",
        "subscription.buy",
        "campaign.compensate",
        "subscription.auto_renew",
        "subscriptions.renew_due",
    ):
        assert action in actions, action
    bought = [e for e in audit if e["action"] == "subscription.buy"]
    assert {e["subject"] for e in bought} == {f"subscription:{t['id']}" for t in terms.values()}
    assert all(e["before"] == {} and e["after"]["state"] == "active" for e in bought)
    consented = next(e for e in audit if e["action"] == "subscription.auto_renew")
    assert (consented["before"]["auto_renew"], consented["after"]["auto_renew"]) == (False, True)
    assert consented["api_key_id"] == api.key_ids["U02"]
    plans_applied = [e for e in audit if e["action"] == "plans.apply"]
    assert plans_applied[0]["subject"] == "catalog:plans" and plans_applied[0]["after"]["version"] == 1
    assert (
        len([e for e in audit if e["action"] == "campaign.compensate"]) == 3
    )  # the whole run, its re-run, and one customer
    assert ok(api.get("/v1/audit/verify", "finance"))["ok"] is True
    verified = ok(api.get("/v1/ledger/verify", "finance"))
    assert verified["ok"] is True, verified["problems"]


def test_customers_see_only_their_own_subscriptions_and_quotes(billing: Api) -> None:
    api = billing
    at(api, BUY_AT)
    mine = ok(buy(api, "U01", GOLD))
    theirs = ok(buy(api, "support", PLATINUM, account="U02"))  # support buys on a customer's behalf
    assert theirs["account_id"] == "U02"
    before = api.get("/v1/subscriptions", "finance", limit=100).json()["data"]

    # Another account's term, list, quote or purchase: 404, exactly as if it did not exist.
    assert error(api.get(f"/v1/subscriptions/{theirs['id']}", "U01"), 404)["code"] == "term_not_found"
    assert error(api.get("/v1/subscriptions/sub_nope", "U01"), 404)["code"] == "term_not_found"
    assert error(api.get("/v1/subscriptions", "U01", account="U02"), 404)["code"] == "account_not_found"
    assert error(api.get("/v1/quotes", "U01", account="U02", plan=GOLD), 404)["code"] == "account_not_found"
    assert error(buy(api, "U01", GOLD, account="U02"), 404)["code"] == "account_not_found"
    assert error(api.post(f"/v1/subscriptions/{theirs['id']}/auto_renew", "U01", {"on": True}), 404)
    assert ok(api.get("/v1/subscriptions", "U01"))["data"] == [mine]
    assert ok(api.get(f"/v1/subscriptions/{mine['id']}", "U01"))["id"] == mine["id"]
    assert ok(api.get("/v1/quotes", "U01", account="U01", plan=GOLD))["price"] == "72.00"

    # Scopes: customers neither refund nor renew; operators do not quote; staff must name the account.
    error(api.post(f"/v1/subscriptions/{mine['id']}/refund", "U01"), 403)
    error(api.post("/v1/subscriptions/renew_due", "U01"), 403)
    error(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "U01", {"dry_run": True}), 403)
    error(api.get("/v1/quotes", "operator", account="U01", plan=GOLD), 403)
    assert error(api.get("/v1/quotes", "support", plan=GOLD), 400)["param"] == "account"
    assert error(api.get("/v1/quotes", "support", account="nobody", plan=GOLD), 404)["code"] == (
        "account_not_found"
    )
    assert (
        error(api.get("/v1/quotes", "support", account="U01", plan="nope"), 404)["code"] == "plan_not_found"
    )
    assert error(buy(api, "support", GOLD, account="nobody"), 404)["code"] == "account_not_found"
    assert api.get("/v1/subscriptions", "finance", limit=100).json()["data"] == before


def test_a_purchase_retried_with_its_idempotency_key_is_made_once(billing: Api) -> None:
    api = billing
    at(api, BUY_AT)
    first = buy(api, "U03", DIAMOND, Idempotency_Key="checkout-42")
    assert first.status_code == 200, first.text
    at(api, "2023-11-01T10:00:05+08:00")  # the client retries a few seconds later
    again = buy(api, "U03", DIAMOND, Idempotency_Key="checkout-42")
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (
        200,
        first.content,
        "true",
    )
    other = buy(api, "U03", GOLD, Idempotency_Key="checkout-42")
    assert error(other, 409)["code"] == "idempotency_key_reused"
    terms = ok(api.get("/v1/subscriptions", "U03"))["data"]
    assert [t["id"] for t in terms] == [first.json()["id"]]
    audit = ok(api.get("/v1/audit", "finance", subject=f"subscription:{terms[0]['id']}"))["data"]
    assert [e["action"] for e in audit] == ["subscription.buy"]
    # A new key is a new purchase.
    assert ok(buy(api, "U03", DIAMOND, Idempotency_Key="checkout-43"))["id"] != terms[0]["id"]
    assert len(ok(api.get("/v1/subscriptions", "U03"))["data"]) == 2


def test_refunds_and_repurchase_by_customer_service(billing: Api) -> None:
    api = billing
    at(api, BUY_AT)
    gold = ok(buy(api, "U04", GOLD))
    diamond = ok(buy(api, "U05", DIAMOND))
    # No newer terms yet: nothing to repurchase at.
    assert (
        error(api.post(f"/v1/subscriptions/{gold['id']}/refund", "support", {"repurchase": True}), 409)[
            "code"
        ]
        == "no_newer_terms"
    )
    publish_v2(api)
    at(api, "2023-11-05T10:00:00+08:00")
    both = api.post(
        f"/v1/subscriptions/{gold['id']}/refund", "support", {"repurchase": True, "prorated": True}
    )
    assert error(both, 400)["param"] == "prorated"
    done = ok(api.post(f"/v1/subscriptions/{gold['id']}/refund", "support", {"repurchase": True}))
    assert (done["object"], done["refunded"], done["charged"], done["net_refund"]) == (
        "subscription_refund",
        "72.00",
        "29.00",
        "43.00",
    )
    assert (done["subscription"]["kind"], done["subscription"]["terms_version"]) == ("repurchase", 2)
    assert done["subscription"]["starts_at"] == gold["starts_at"]
    assert done["refunded_term"]["state"] == "refunded"
    twice = api.post(f"/v1/subscriptions/{gold['id']}/refund", "support", {"repurchase": True})
    assert error(twice, 409)["type"] == "refused_error"

    prorated = ok(api.post(f"/v1/subscriptions/{diamond['id']}/refund", "support", {"prorated": True}))
    assert prorated["subscription"]["state"] == "refunded"
    assert 0 < float(prorated["refunded"]) < 816  # only the unused share (the amount is a decimal string)
    assert error(api.post("/v1/subscriptions/sub_nope/refund", "support"), 404)["code"] == "term_not_found"

    audit = ok(api.get("/v1/audit", "finance", subject=f"subscription:{gold['id']}"))["data"]
    refund = next(e for e in audit if e["action"] == "subscription.refund")
    assert (refund["before"]["state"], refund["after"]["state"]) == ("active", "refunded")
    assert refund["after"]["created_terms"] == [done["subscription"]["id"]]
    assert refund["api_key_id"] == api.key_ids["support"]
    verified = ok(api.get("/v1/ledger/verify", "finance"))
    assert verified["ok"] is True, verified["problems"]


def test_offer_campaigns_through_the_campaign_endpoints(billing: Api) -> None:
    api = billing
    # An offer has no cashback dry run or issuance; its report has no budget.
    assert (
        error(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/simulate", "operator"), 409)["code"] == "offer_campaign"
    )
    report = ok(api.get(f"/v1/campaigns/{CAMPAIGN_ID}/report", "support"))
    assert (report["kind"], report["state"], report["budget"], report["grants"]) == (
        "offer",
        "active",
        None,
        {},
    )
    # Nothing to compensate before a newer version is approved; the author key cannot approve it.
    nothing = api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "operator", {"dry_run": True})
    assert error(nothing, 409)["code"] == "nothing_to_reconcile"
    at(api, PUBLISHED)
    ok(api.post("/v1/campaigns", "admin", offer(2)))
    assert (
        error(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/approve", "admin"), 403)["code"] == "insufficient_scope"
    )
    unknown = api.post(
        "/v1/campaigns/nope/compensate", "operator", {"dry_run": True, "policy": "rate_parity"}
    )
    assert error(unknown, 404)["code"] == "campaign_not_found"
    bad_policy = api.post(
        f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "operator", {"dry_run": True, "policy": "x"}
    )
    assert error(bad_policy, 400)["param"] == "policy"
    # The plans an active offer sells cannot be removed from the catalog.
    removed = api.post("/v1/plans", "admin", {"currency": "CNY", "plans": plans()["plans"][:1]})
    assert error(removed, 409)["code"] == "plan_in_use"
    assert ok(api.get("/v1/plans", "customer", limit=2))["has_more"] is True
    page_two = ok(api.get("/v1/plans", "customer", limit=2, starting_after=PLATINUM))
    assert ([p["id"] for p in page_two["data"]], page_two["has_more"]) == ([DIAMOND], False)
    assert error(api.get("/v1/plans", "customer", starting_after="nope"), 400)["param"] == "starting_after"


def test_a_quote_for_an_unknown_account_is_404_naming_it(billing: Api) -> None:
    at(billing, BUY_AT)
    body = error(billing.get("/v1/quotes", "support", account="NOPE", plan=PLATINUM), 404)
    assert (body["code"], body["param"], body["message"]) == (
        "account_not_found",
        "account",
        "account NOPE is not known; import it first",
    )


def test_repurchase_after_compensation_over_http(billing: Api) -> None:
    """Compensated first, then refunded and rebought at v2: net P_old - P_new, the days taken back."""
    api = billing
    at(api, BUY_AT)
    platinum = ok(buy(api, "U02", PLATINUM))
    publish_v2(api)
    at(api, COMPENSATED)
    job = ok(api.post(f"/v1/campaigns/{CAMPAIGN_ID}/compensate", "operator"), 202)
    assert api.wait_job(job["id"])["result"]["applied"] == 1
    at(api, "2023-11-06T10:00:00+08:00")
    done = ok(api.post(f"/v1/subscriptions/{platinum['id']}/refund", "support", {"repurchase": True}))
    assert (done["refunded"], done["charged"], done["net_refund"]) == ("252.00", "109.00", "143.00")
    assert done["compensation_days_returned"] == EXTRA_DAYS[PLATINUM]
    assert (done["subscription"]["kind"], done["subscription"]["terms_version"]) == ("repurchase", 2)
    report = ok(api.get(f"/v1/campaigns/{CAMPAIGN_ID}/report", "finance"))["compensation"]
    assert [(c["days"], c["days_returned"]) for c in report] == [(0, EXTRA_DAYS[PLATINUM])]
    verified = ok(api.get("/v1/ledger/verify", "finance"))
    assert verified["ok"] is True, verified["problems"]
