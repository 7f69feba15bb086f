"""The web console without a browser (FastAPI's TestClient): sign-in, CSRF, scopes, four-eyes,
locales and customer isolation. The browser tests (tests/e2e/browser) click through the flows."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.api_store import ApiStore
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.console import fmt
from pledge.entrypoints.console.catalogue import MESSAGES
from pledge.entrypoints.console.i18n import negotiate
from pledge.entrypoints.console.session import Sessions
from pledge.entrypoints.server import create_app
from pledge.entrypoints.web.context import Settings
from pledge.usecases.import_data import import_accounts, import_purchases
from tests.support.data import campaign, write_files

NOW = "2021-08-10T12:00:00+08:00"
PEOPLE = {  # label → (name, scope, account)
    "admin": ("ops.li", "admin", None),
    "approver": ("finance.wang", "approver", None),
    "approver_same_person": ("ops.li", "approver", None),  # the author, holding a second key
    "operator": ("ops.zhao", "operator", None),
    "support": ("cs.chen", "support", None),
    "finance": ("fin.qian", "finance", None),
    "customer1": ("A-cn-1", "customer", "A-cn-1"),
    "customer2": ("A-cn-2", "customer", "A-cn-2"),
}


@dataclass
class Console:
    api: Any
    store: ApiStore
    keys: dict[str, str]
    key_ids: dict[str, str]
    app: App

    def client(self, who: str | None = None, base: str = "/console", **headers: str) -> TestClient:
        client = TestClient(self.api, base_url="http://testserver", headers=headers)
        if who is not None:
            response = self.sign_in(client, who, base)
            assert response.status_code == 303 and response.headers["location"] == f"{base}/", response.text
        return client

    def sign_in(self, client: TestClient, who: str, base: str = "/console") -> Any:
        page = client.get(f"{base}/sign-in")
        return client.post(
            f"{base}/sign-in",
            data={"csrf": csrf_of(page.text), "key": self.keys[who], "next": f"{base}/"},
            follow_redirects=False,
        )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def flash_of(html: str) -> str:
    found = re.search(r'<div class="flash (?:ok|error)" role="(?:status|alert)">([^<]*)</div>', html)
    return found.group(1) if found else ""


def post_form(client: TestClient, page_url: str, action: str, **fields: str) -> Any:
    """Load a page for its CSRF token, then post a form as the browser would (following the redirect)."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={"csrf": token, **fields})


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    app = App(f"sqlite:///{folder / 'console.db'}", parse_instant(NOW))
    upgrade(app.engine)
    accounts, purchases = write_files(folder)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    store = ApiStore(app.engine)
    keys, key_ids = {}, {}
    now = time.time_ns() // 1_000
    for label, (name, scope, account) in PEOPLE.items():
        key, secret = store.create_key(
            scope=scope, name=name, account_id=account, expires_at_us=None, now_us=now
        )
        keys[label], key_ids[label] = secret, key.key_id
    api = create_app(app, Settings(webhook_worker=False))
    with TestClient(api):
        yield Console(api, store, keys, key_ids, app)
    app.close()


def apply_via_console(console: Console, campaign_id: str) -> None:
    import yaml

    admin = console.client("admin")
    document = yaml.safe_dump(campaign(id=campaign_id), allow_unicode=True)
    done = post_form(admin, "/console/campaigns/new", "/console/campaigns/new", document=document)
    assert done.status_code == 200
    assert f"Applied {campaign_id}: version 1" in flash_of(done.text)


def test_pages_need_a_signed_in_key(console: Console) -> None:
    anonymous = console.client()
    response = anonymous.get("/console/campaigns", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fcampaigns"
    assert anonymous.get("/", follow_redirects=False).headers["location"] == "/console/"
    page = anonymous.get("/console/sign-in")
    assert (
        "content-security-policy" in page.headers
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    bad = anonymous.post("/console/sign-in", data={"csrf": csrf_of(page.text), "key": "pk_live_nope"})
    assert bad.status_code == 401 and "not valid" in bad.text
    # Sessions are HttpOnly, SameSite=Strict cookies scoped to the console's path.
    signed = console.sign_in(console.client(), "admin")
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert console.keys["admin"] not in cookie  # the session holds the key id, never the secret


def test_next_never_leaves_the_console(console: Console) -> None:
    client = console.client()
    page = client.get("/console/sign-in?next=//evil.example/x")
    response = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "key": console.keys["admin"], "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"


def test_forms_without_the_session_csrf_token_are_refused(console: Console) -> None:
    admin = console.client("admin")
    document = "id: csrf-test\n"
    for fields in ({}, {"csrf": "forged"}):
        refused = admin.post("/console/campaigns/new", data={**fields, "document": document})
        assert refused.status_code == 403
        assert "expired or did not come from this site" in refused.text
    token = csrf_of(admin.get("/console/campaigns/new").text)
    cross = admin.post(
        "/console/campaigns/new",
        data={"csrf": token, "document": document},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    # Another session's token does not work either (synchronizer token bound to the session).
    other = console.client("admin")
    other_token = csrf_of(other.get("/console/campaigns/new").text)
    assert (
        admin.post("/console/campaigns/new", data={"csrf": other_token, "document": document}).status_code
        == 403
    )
    assert "csrf-test" not in admin.get("/console/campaigns").text


def test_scopes_decide_what_each_person_may_do(console: Console) -> None:
    apply_via_console(console, "scopes-test")
    support = console.client("support")
    assert support.get("/console/campaigns/new").status_code == 403
    finance = console.client("finance")
    assert finance.get("/console/accounts/A-cn-1").status_code == 403  # finance reads money, not people
    assert finance.get("/console/campaigns/scopes-test").status_code == 200
    operator = console.client("operator")
    page = operator.get("/console/campaigns/scopes-test")
    assert 'href="/console/campaigns/scopes-test/approve"' not in page.text  # not offered
    token = csrf_of(page.text)
    refused = operator.post("/console/campaigns/scopes-test/approve", data={"csrf": token})
    assert refused.status_code == 403 and "may not do this" in refused.text
    # Customer keys never open the console, staff keys never open the customer page.
    customer = console.client()
    assert console.sign_in(customer, "customer1").status_code == 401
    staff = console.client(base="/me")
    assert console.sign_in(staff, "support", "/me").status_code == 401


def test_four_eyes_compares_people_not_keys(console: Console) -> None:
    apply_via_console(console, "four-eyes")
    same = console.client("approver_same_person")  # ops.li wrote v1, now holding an approver key
    page = same.get("/console/campaigns/four-eyes/approve")
    assert "another person must approve it" in page.text and 'value="Approve this version"' not in page.text
    refused = post_form(
        same,
        "/console/campaigns/four-eyes",
        "/console/campaigns/four-eyes/approve",
        back="/console/campaigns/four-eyes",
    )
    assert "another person must approve it" in flash_of(refused.text)
    assert "not approved" in refused.text
    other = console.client("approver")
    done = post_form(other, "/console/campaigns/four-eyes", "/console/campaigns/four-eyes/approve")
    assert "Version 1 approved by finance.wang" in flash_of(done.text)
    # The approval is bound to the content hash the approver saw.
    audit = console.store.audit_page(None, 100, "campaign:four-eyes")
    assert [a.record.action for a in audit] == ["campaign.apply", "campaign.approve"]
    assert audit[-1].record.actor.startswith("finance.wang (key_")


def test_locale_and_money_formatting(console: Console) -> None:
    assert fmt.money("1999.00", "CNY", "en") == "¥1,999.00"
    assert fmt.money("1999.00", "CNY", "zh-CN") == "¥1,999.00"
    assert fmt.money(5_000_000_000, "CNY") == "¥50,000,000.00"
    assert fmt.money("-0.05", "CNY") == "-¥0.05"
    assert fmt.money("1999", "JPY") == "JP¥1,999"
    assert fmt.money("12.34", "CHF") == "12.34 CHF"
    assert fmt.money(None, "CNY") == "—"
    assert fmt.percent(1, 3) == "33.3%" and fmt.percent(2, 3) == "66.7%" and fmt.percent(0, 0) == "—"
    assert negotiate(None, None, "zh-TW,zh;q=0.9") == "zh-CN"
    assert negotiate("en", "zh-CN", "zh") == "en" and negotiate(None, "zh-CN", "en") == "zh-CN"
    assert negotiate(None, None, "fr") == "en"
    assert all(len(pair) == 2 and all(pair) for pair in MESSAGES.values())
    apply_via_console(console, "locale-test")
    zh = console.client("admin")
    page = zh.get("/console/campaigns", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in page.text and "活动" in page.text and "¥50,000,000.00" in page.text
    english = zh.get("/console/campaigns?lang=en")
    assert '<html lang="en">' in english.text and "pledge_lang=en" in english.headers["set-cookie"]


def test_every_message_used_exists_in_both_languages() -> None:
    root = Path(__file__).parents[2] / "src/pledge/entrypoints/console"
    used: set[str] = set()
    for path in [*root.glob("*.py"), *root.glob("templates/*.html")]:
        used |= set(re.findall(r"\bt\(\s*[\"']([a-z_]+)[\"']", path.read_text(encoding="utf-8")))
    prefixes = ("confirm_", "confirm_help_", "confirm_title_", "do_", "envelope_", "grant_", "job_", "kind_")
    missing = sorted(k for k in used if k not in MESSAGES and not k.endswith("_") and k not in prefixes)
    assert missing == []
    for prefix, values in {
        "do_": ("approve", "launch", "run", "pause", "resume"),
        "state_": ("draft", "approved", "active", "paused", "closed", "settled"),
        "grant_": ("issued", "claimed", "paid", "expired", "revoked"),
        "job_": ("queued", "running", "succeeded", "failed"),
        "refund_": ("full", "repurchase", "prorated"),
    }.items():
        assert all(f"{prefix}{v}" in MESSAGES for v in values)


def test_a_customer_sees_and_opens_only_their_own_envelopes(console: Console) -> None:
    apply_via_console(console, "isolation")
    post_form(
        console.client("approver"), "/console/campaigns/isolation", "/console/campaigns/isolation/approve"
    )
    operator = console.client("operator")
    post_form(operator, "/console/campaigns/isolation", "/console/campaigns/isolation/launch")
    ran = post_form(operator, "/console/campaigns/isolation", "/console/campaigns/isolation/run")
    assert ran.status_code == 200
    console.api.state.pledge.jobs.wait_idle(30)
    grants = {g.account_id: g for g in _grants(console, "isolation")}
    mine, theirs = grants["A-cn-1"], grants["A-cn-2"]

    customer = console.client("customer1", base="/me")
    page = customer.get("/me/")
    assert mine.id in page.text and theirs.id not in page.text and "A-cn-2" not in page.text
    # Another account's envelope is answered as if it did not exist, and stays unopened.
    refused = post_form(customer, "/me/", f"/me/grants/{theirs.id}/claim", back="/me/")
    assert "No such red envelope" in flash_of(refused.text)
    assert console.store.grant(theirs.id).state.value == "issued"  # type: ignore[union-attr]  # the grant exists
    opened = post_form(customer, "/me/", f"/me/grants/{mine.id}/claim", back="/me/")
    assert "You opened your red envelope: ¥1,999.00" in flash_of(opened.text)
    assert console.store.grant(mine.id).state.value == "claimed"  # type: ignore[union-attr]  # the grant exists
    # The customer's session is not a console session.
    assert customer.get("/console/campaigns", follow_redirects=False).status_code == 303
    assert any(
        a.record.action == "grant.claim" for a in console.store.audit_page(None, 100, f"grant:{mine.id}")
    )


def test_revoking_a_key_ends_its_session_at_once(console: Console) -> None:
    support = console.client("support")
    assert support.get("/console/accounts").status_code == 200
    console.store.revoke_key(console.key_ids["support"], time.time_ns() // 1_000)
    assert support.get("/console/accounts", follow_redirects=False).status_code == 303


def test_a_tampered_session_is_no_session() -> None:
    sessions = Sessions("pledge_console", "/console", 60, secret=b"k")
    value = sessions.encode(sessions.new("key_abc"))
    assert sessions.decode(value) is not None
    payload, signature = value.split(".")
    forged = Sessions("pledge_console", "/console", 60, secret=b"other").encode(sessions.new("key_admin"))
    assert sessions.decode(forged) is None
    assert sessions.decode(payload[:-2] + "xx." + signature) is None
    assert sessions.decode(value, now_s=int(time.time()) + 61) is None  # expired


def _grants(console: Console, campaign_id: str) -> list[Any]:
    with console.app.uow() as uow:
        return uow.grants.page(campaign_id=campaign_id, account_id=None, starting_after=None, limit=100)


def test_offer_compensation_dry_run_then_apply(tmp_path: Path) -> None:
    """Scenario B: the compensation dry run per plan, then applied by an operator (a job, audited)."""
    from pledge.bootstrap import FixedClock as Fixed
    from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
    from pledge.usecases.catalog import apply_plans
    from pledge.usecases.subscriptions import buy_subscription
    from tests.support import billing

    app = App(f"sqlite:///{tmp_path / 'b.db'}", billing.us("2023-10-30T09:00:00+08:00"))
    upgrade(app.engine)
    import_accounts(app.uow, [billing.account_records()])
    apply_plans(app.uow, app.clock, billing.plans(), "growth.zhang")
    apply_campaign(app.uow, app.rules, app.clock, billing.offer(1), "growth.zhang")
    approve_campaign(app.uow, app.rules, app.clock, billing.CAMPAIGN_ID, "finance.wang")
    launch_campaign(app.uow, app.rules, app.clock, billing.CAMPAIGN_ID, "finance.wang")
    app.clock = Fixed(billing.us(billing.BUY_AT))
    for account, plan in (("U01", billing.GOLD), ("U02", billing.PLATINUM), ("U03", billing.PLATINUM)):
        buy_subscription(app.uow, app.clock, account, plan)
    app.clock = Fixed(billing.us("2023-11-03T10:00:00+08:00"))
    apply_campaign(app.uow, app.rules, app.clock, billing.offer(2), "growth.zhang")
    approve_campaign(app.uow, app.rules, app.clock, billing.CAMPAIGN_ID, "finance.wang")
    store = ApiStore(app.engine)
    now = time.time_ns() // 1_000
    keys = {
        scope: store.create_key(
            scope=scope, name=f"{scope}.person", account_id=None, expires_at_us=None, now_us=now
        )
        for scope in ("operator", "finance")
    }
    api = create_app(app, Settings(webhook_worker=False))
    console = Console(
        api, store, {s: k[1] for s, k in keys.items()}, {s: k[0].key_id for s, k in keys.items()}, app
    )
    url = f"/console/campaigns/{billing.CAMPAIGN_ID}/compensation"
    with TestClient(api):
        finance = console.client("finance")
        page = finance.get(url)
        assert page.status_code == 200
        totals = page.text[page.text.index('id="totals"') :]
        assert "cloud-platinum-200gb" in totals and "600" in totals  # 2 × 300 extra days
        assert "needs the operator scope" in page.text and "Apply compensation" not in page.text
        operator = console.client("operator")
        done = post_form(operator, url, url, confirm="yes")
        assert "/console/jobs/" in str(done.url)
        api.state.pledge.jobs.wait_idle(30)
        job = operator.get(str(done.url)).text
        assert "succeeded" in job
        again = operator.get(url).text
        assert "already_compensated 3" in again
    assert [a.record.action for a in store.audit_page(None, 10, f"campaign:{billing.CAMPAIGN_ID}")] == [
        "campaign.compensate"
    ]
    app.close()
