"""``POST /v1/grants/{id}/reinstate`` over real HTTP on SQLite and PostgreSQL: support and operator
keys only; above ``payout.reinstate_review_above`` the first person's call leaves the grant expired,
another key of that person is refused, a different person re-opens it; the ledger verifies."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.test_api_corrections import grants_of
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401 - fixtures

PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "reinstate_review_above": "500.00"}
DAY = 86_400 * 1_000_000


def test_two_people_reopen_an_expired_envelope_over_http(api: Api, tmp_path: Path) -> None:
    api.load_data(tmp_path)
    api.launch(payout=PAYOUT)
    assert api.run()["result"]["issued"] == 3
    api.clock.instant_us += 41 * DAY
    assert api.post("/v1/grants/expire", "operator").status_code == 200
    path = f"/v1/grants/{grants_of(api)['P01']['id']}/reinstate"
    assert api.post(path, "finance", {"reason": "x"}).status_code == 403
    assert api.post(path, "customer", {"reason": "x"}).status_code == 403
    first = api.post(path, "support", {"reason": "she never heard of it"})
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "expired"
    assert first.json()["reinstatement"]["state"] == "pending_second_approval"
    _, secret = api.store.create_key(  # a second key of the same person, spelt otherwise
        scope="support", name=" SUPPORT ", account_id=None, expires_at_us=None, now_us=time.time_ns() // 1_000
    )
    api.keys["support-again"] = secret
    again = api.post(path, "support-again", {"reason": "my other key"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "four_eyes", again.text
    done = api.post(path, "operator", {"reason": "agreed"})
    assert done.status_code == 200 and done.json()["state"] == "issued", done.text
    assert "reinstatement" not in done.json()
    verified = api.get("/v1/ledger/verify", "finance").json()
    assert verified["ok"], verified["problems"]
