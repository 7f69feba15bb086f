"""Issue #20 over HTTP on SQLite and PostgreSQL: a misspelt field never runs the real thing.

``{"dryrun": true}`` to compensate queued the real compensation; ``{"prorate":
true}`` refunded in full; ``{"widen_day": 3}`` simulated without widening.
Each is now 400 ``unknown_field`` with the field meant, and nothing changes;
and every money-moving answer says whether it was a dry run and how much it
changed.
"""

from __future__ import annotations

from typing import Any

from tests.integration.test_api_billing import at, billing, buy, error, ok, publish_v2  # noqa: F401 - fixture
from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.integration.test_api_unknown_fields import snapshot
from tests.support.billing import BUY_AT, CAMPAIGN_ID, DIAMOND, EXTRA_DAYS, GOLD, PLATINUM

COMPENSATE = f"/v1/campaigns/{CAMPAIGN_ID}/compensate"


def unknown(response: Any, wrong: str, meant: str) -> None:
    body = error(response, 400)
    assert (body["type"], body["code"], body["param"]) == ("invalid_request_error", "unknown_field", wrong)
    assert body["message"] == f"{wrong}: unknown field; did you mean {meant}?"


def test_a_misspelt_dry_run_or_prorate_changes_nothing(billing: Api) -> None:  # noqa: F811 - the imported fixture, by name
    api = billing
    at(api, BUY_AT)
    terms = {plan: ok(buy(api, f"U0{n}", plan)) for n, plan in enumerate((GOLD, PLATINUM, DIAMOND), 1)}
    publish_v2(api)
    at(api, "2023-11-04T09:00:00+08:00")
    before = snapshot(api)
    unknown(api.post(COMPENSATE, "operator", {"dryrun": True}, Idempotency_Key="c-1"), "dryrun", "dry_run")
    unknown(
        api.post(COMPENSATE, "operator", {"dry_run": True, "acount_id": "U02"}), "acount_id", "account_id"
    )
    refund = f"/v1/subscriptions/{terms[GOLD]['id']}/refund"
    unknown(api.post(refund, "support", {"prorate": True}), "prorate", "prorated")
    assert snapshot(api) == before  # no job, no compensation, no refund, no audit entry
    gold = ok(api.get(f"/v1/subscriptions/{terms[GOLD]['id']}", "support"))
    assert (gold["state"], gold["refunded"], gold["compensated_days"]) == ("active", "0.00", 0)

    # Spelt right: the answer says plainly whether anything changed.
    dry = ok(api.post(COMPENSATE, "operator", {"dry_run": True}))
    assert (dry["dry_run"], dry["changed"], dry["applied"]) == (True, 0, 0)
    assert snapshot(api) == before
    job = api.wait_job(ok(api.post(COMPENSATE, "operator", {"dry_run": False}), 202)["id"])
    assert (job["result"]["dry_run"], job["result"]["changed"], job["result"]["applied"]) == (False, 3, 3)
    after = {t["plan"]: t["compensated_days"] for t in ok(api.get("/v1/subscriptions", "finance"))["data"]}
    assert after == EXTRA_DAYS
    at(api, "2030-01-01T00:00:00+08:00")
    renewal = api.wait_job(ok(api.post("/v1/subscriptions/renew_due", "operator"), 202)["id"])
    assert renewal["result"] | {"object": None} == {
        "object": None,
        "renewed": 0,
        "lapsed": 3,
        "dry_run": False,
        "changed": 3,
    }


def test_a_misspelt_widen_days_does_not_simulate_unwidened(scenario: Api) -> None:
    api = scenario
    path = "/v1/campaigns/founders-refund/simulate"
    unknown(api.post(path, "admin", {"widen_day": 3}), "widen_day", "widen_days")
    assert ok(api.post(path, "admin", {"widen_days": 3}))["widen"]["days"] == 3
    at(api, "2031-01-01T00:00:00+08:00")
    before = snapshot(api)
    # Expiring has no dry run: asking for one is refused, not taken as a yes.
    refused = error(api.post("/v1/grants/expire", "operator", {"dry_run": True}), 400)
    assert (refused["code"], refused["param"]) == ("unknown_field", "dry_run")
    assert refused["message"] == "dry_run: unknown field; this operation takes no body"
    assert snapshot(api) == before
    expired = ok(api.post("/v1/grants/expire", "operator"))
    assert (expired["dry_run"], expired["changed"], expired["expired"]) == (False, 3, 3)
    run = api.run()["result"]
    assert (run["dry_run"], run["changed"]) == (False, run["issued"])
