"""Hostile and careless requests: each gets a clear 4xx with the common error body, and writes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.integration.test_api_support import (  # noqa: F401 - fixtures
    Api,
    api_fixture,
    running_api,
    scenario_fixture,
)
from tests.support.data import campaign

CID = "founders-refund"
INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE grants; --",
    '"; DELETE FROM campaigns; --',
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "%00",
    "gr_" + "9" * 300,
]
UNICODE = ["账户-１", "Ωmega", "emoji-🧧", "zero\u200bwidth", "ﬁ-ligature", "rtl-\u202e", "e\u0301"]


def assert_error(response: object, status: int, type_: str | None = None) -> dict[str, object]:
    assert getattr(response, "status_code", None) == status, getattr(response, "text", "")
    body = response.json()  # type: ignore[attr-defined]  # any client's response
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message", "param"}
    if type_:
        assert body["error"]["type"] == type_
    return dict(body["error"])


def test_missing_wrong_expired_and_revoked_keys_get_401(api: Api) -> None:
    now = time.time_ns() // 1_000
    expired = api.add_key("expired", "finance", None, now - 10, expires=now - 1)
    revoked = api.add_key("revoked", "finance", None, now)
    api.store.revoke_key(api.key_ids["revoked"], now)
    before = api.counts()
    cases = {
        None: "missing_api_key",
        "pk_live_not-a-key": "invalid_api_key",
        expired: "api_key_expired",
        revoked: "api_key_revoked",
        "x" * 5000: "invalid_api_key",
    }
    for secret, code in cases.items():
        for method, path in (("GET", "/v1/ledger/verify"), ("POST", "/v1/campaigns")):
            headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
            response = api.http.request(method, path, headers=headers, json=campaign())
            error = assert_error(response, 401, "authentication_error")
            assert error["code"] == code
            assert response.headers["WWW-Authenticate"] == "Bearer"
    basic = api.http.get("/v1/ledger/verify", headers={"Authorization": "Basic YTpi"})
    assert_error(basic, 401)
    assert api.counts() == before


def test_a_key_revoked_elsewhere_is_refused_within_the_key_cache_bound(db_url: str) -> None:
    """Each process remembers a bearer key for ``key_cache_s`` (ADR 38): a revocation made by
    another process (here the store, beside the server) is refused once that has passed."""
    with running_api(db_url, key_cache_s=0.5) as api:
        assert api.get("/v1/ledger/verify", "finance").status_code == 200
        api.store.revoke_key(api.key_ids["finance"], time.time_ns() // 1_000)
        revoked_at = time.monotonic()
        deadline = revoked_at + 0.5 + 0.05
        while (answer := api.get("/v1/ledger/verify", "finance")).status_code == 200:
            assert time.monotonic() < deadline, "still served past the bound"
            time.sleep(0.02)
        assert time.monotonic() - revoked_at <= 0.5 + 0.05
        assert assert_error(answer, 401, "authentication_error")["code"] == "api_key_revoked"


def test_scopes_are_enforced_with_403(scenario: Api) -> None:
    before = scenario.counts()
    forbidden = [
        ("POST", "/v1/campaigns", "approver"),
        ("POST", "/v1/campaigns", "customer"),
        ("POST", f"/v1/campaigns/{CID}/approve", "admin"),
        ("POST", f"/v1/campaigns/{CID}/approve", "operator"),
        ("POST", f"/v1/campaigns/{CID}/launch", "admin"),
        ("POST", f"/v1/campaigns/{CID}/run", "finance"),
        ("POST", f"/v1/campaigns/{CID}/pause", "support"),
        ("POST", "/v1/grants/expire", "customer"),
        ("GET", "/v1/ledger/verify", "customer"),
        ("GET", "/v1/ledger/verify", "operator"),
        ("GET", "/v1/audit", "support"),
        ("GET", f"/v1/campaigns/{CID}/report", "customer"),
        ("POST", "/v1/webhook_endpoints", "operator"),
        ("POST", "/v1/accounts/import", "finance"),
    ]
    for method, path, who in forbidden:
        response = scenario.http.request(method, path, headers=scenario.headers(who), json={})
        assert_error(response, 403, "permission_error")
    grant = scenario.get("/v1/grants", "finance", account="A-cn-1").json()["data"][0]
    assert_error(scenario.post(f"/v1/grants/{grant['id']}/claim", "support"), 403)
    assert scenario.counts() == before


def test_a_customer_sees_only_its_own_account(scenario: Api) -> None:
    before = scenario.counts()
    other = scenario.get("/v1/grants", "finance", account="A-cn-2").json()["data"][0]
    for path in (
        f"/v1/grants/{other['id']}",
        "/v1/accounts/A-cn-2",
        "/v1/accounts/A-cn-2/eligibility?campaign=founders-refund",
        "/v1/purchases/P03",
    ):
        assert_error(scenario.get(path, "customer"), 404, "invalid_request_error")
    assert_error(scenario.post(f"/v1/grants/{other['id']}/claim", "customer"), 404)
    assert_error(scenario.get("/v1/grants", "customer", account="A-cn-2"), 404)
    assert scenario.get(f"/v1/grants/{other['id']}", "finance").json()["state"] == "issued"
    # A job is visible to staff that may read jobs and to the key that made it; a customer gets 404.
    job = scenario.post(f"/v1/campaigns/{CID}/run", "operator").json()
    scenario.wait_job(job["id"])
    assert_error(scenario.get(f"/v1/jobs/{job['id']}", "customer"), 404)
    assert_error(scenario.get(f"/v1/jobs/{job['id']}", "support"), 404)
    assert scenario.get(f"/v1/jobs/{job['id']}", "finance").status_code == 200
    after = scenario.counts()
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


def test_injection_and_unicode_in_every_parameter(scenario: Api) -> None:
    before = scenario.counts()
    for text in INJECTIONS + UNICODE:
        _try_everywhere(scenario, text)
    assert {k: v for k, v in scenario.counts().items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    assert scenario.get("/v1/ledger/verify", "finance").json()["ok"] is True


def _try_everywhere(scenario: Api, text: str) -> None:
    quoted = text.replace("/", "%2F")
    for method, path, who in (
        ("GET", f"/v1/grants/{quoted}", "finance"),
        ("POST", f"/v1/grants/{quoted}/claim", "customer"),
        ("GET", f"/v1/accounts/{quoted}", "support"),
        ("GET", f"/v1/accounts/{quoted}/eligibility?campaign={CID}", "support"),
        ("GET", f"/v1/accounts/A-cn-1/eligibility?campaign={quoted}", "support"),
        ("GET", f"/v1/purchases/{quoted}", "support"),
        ("GET", f"/v1/campaigns/{quoted}/report", "finance"),
        ("POST", f"/v1/campaigns/{quoted}/launch", "operator"),
        ("GET", f"/v1/jobs/{quoted}", "operator"),
        ("GET", f"/v1/events/{quoted}", "admin"),
        ("GET", f"/v1/grants?campaign={quoted}&account={quoted}&starting_after={quoted}", "finance"),
        ("GET", f"/v1/audit?subject={quoted}&starting_after={quoted}", "finance"),
    ):
        response = scenario.http.request(method, path, headers=scenario.headers(who))
        assert response.status_code in (200, 400, 404), f"{method} {path}: {response.text}"
        if response.status_code == 200:
            assert response.json()["object"] == "list"
        else:
            assert_error(response, response.status_code)
    for field in ("id", "timezone", "currency", "budget"):
        doc = campaign(**{field: text})
        assert_error(scenario.post("/v1/campaigns", "admin", doc), 400)
    # Free text is just text: stored as given (parameters are bound, never spliced into SQL).
    named = scenario.post("/v1/campaigns", "admin", campaign(name=text))
    assert named.status_code == 200, named.text
    doc = campaign()
    doc["qualify"]["rule"] = f'purchase.sku == "{text}" || {text}'
    assert_error(scenario.post("/v1/campaigns", "admin", doc), 400)
    assert_error(scenario.post("/v1/webhook_endpoints", "admin", {"url": text, "events": ["*"]}), 400)


def test_control_characters_and_lone_surrogates_are_400_not_500(scenario: Api) -> None:
    before = scenario.counts()
    for bad in ("a\x00b", "\x07bell", "\ud800"):
        body = json.dumps(campaign(name=bad)).encode()  # ensure_ascii keeps the surrogate escaped
        response = scenario.http.post(
            "/v1/campaigns", content=body, headers=scenario.headers("admin", Content_Type="application/json")
        )
        assert_error(response, 400)
        assert_error(scenario.get("/v1/grants/x%00y", "finance"), 400)
    assert_error(scenario.post("/v1/campaigns", "admin", campaign(), Idempotency_Key="a\tb\x01"), 400)
    assert scenario.counts() == before


def test_oversized_and_malformed_bodies(api: Api, tmp_path: Path) -> None:
    before = api.counts()
    huge = b'{"id": "' + b"a" * (2 << 20) + b'"}'
    error = assert_error(
        api.http.post("/v1/campaigns", content=huge, headers=api.headers("admin", Content_Type="text/json")),
        413,
    )
    assert error["code"] == "body_too_large"

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 65536

    streamed = api.http.post(
        "/v1/campaigns", content=chunks(), headers=api.headers("admin", Content_Type="application/json")
    )
    assert_error(streamed, 413)
    for body, content_type in (
        (b"", "application/json"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"a: [unclosed", "application/yaml"),
        (b"- just\n- a list\n", "application/yaml"),
        (b"&a [*a, *a]", "application/yaml"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"a: " + b"[" * 5000 + b"]" * 5000, "application/yaml"),
    ):
        response = api.http.post(
            "/v1/campaigns", content=body, headers=api.headers("admin", Content_Type=content_type)
        )
        assert_error(response, 400, "invalid_request_error")
    for payload in ({"near_misses": -1}, {"near_misses": "many"}, {"widen_days": 10**9}):
        assert_error(api.post(f"/v1/campaigns/{'founders-refund'}/simulate", "approver", payload), 400)
    assert_error(api.get("/v1/grants", "finance", limit=0), 400)
    assert_error(api.get("/v1/grants", "finance", limit="ten"), 400)
    for kind in ("accounts", "purchases"):
        assert_error(api.upload(kind, b""), 400)
        assert_error(api.upload(kind, b"PAR1 not really parquet"), 400)
        assert_error(api.upload(kind, b"\xff\xfe garbage \x00\x01"), 400)
        assert_error(api.upload(kind, b"x", Content_Type="application/vnd.apache.parquet"), 400)
    assert_error(api.http.get("/v1/nothing-here", headers=api.headers("admin")), 404)
    assert_error(api.http.put("/v1/campaigns", headers=api.headers("admin")), 405)
    assert api.counts() == before
