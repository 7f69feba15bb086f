"""Re-opening an expired envelope from the console's account page (TestClient, SQLite): support sees
a "Re-open" form on expired grants only, finance does not; above the campaign's
``payout.reinstate_review_above`` the first person is told a second one must, the same person with
another key is refused, a different person re-opens it; the flash is in English and in Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.api_store import ApiStore
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.presenters import grants_json
from pledge.entrypoints.server import create_app
from pledge.entrypoints.web.context import Settings
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.grants import expire_grants, list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from tests.e2e.test_console import NOW, Console, flash_of, post_form
from tests.support.data import campaign, write_files

CID = "founders-refund"
DAY = 86_400 * 1_000_000
PAYOUT = {"channel": "red_envelope", "claim_within": "30d", "reinstate_review_above": "500.00"}
PEOPLE = {  # label → (person, scope)
    "wang": ("cs.wang", "support"),
    "wang_again": ("CS.Wang", "support"),  # the same person with a second key
    "li": ("ops.li", "operator"),
    "finance": ("fin.qian", "finance"),
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Console]:
    app = App(f"sqlite:///{tmp_path / 'r.db'}", parse_instant(NOW))
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    apply_campaign(app.uow, app.rules, app.clock, campaign(payout=PAYOUT), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    app.clock = FixedClock(parse_instant(NOW) + 41 * DAY)
    assert expire_grants(app.uow, app.clock).expired == 3
    store = ApiStore(app.engine)
    keys, key_ids = {}, {}
    for label, (name, scope) in PEOPLE.items():
        key, secret = store.create_key(
            scope=scope, name=name, account_id=None, expires_at_us=None, now_us=time.time_ns() // 1_000
        )
        keys[label], key_ids[label] = secret, key.key_id
    api = create_app(app, Settings(webhook_worker=False))
    with TestClient(api):
        yield Console(api, store, keys, key_ids, app)
    app.close()


def test_two_people_reopen_an_expired_envelope_from_the_account_page(site: Site) -> None:
    grant = next(
        g
        for g in grants_json(list_grants(site.app.uow, campaign_id=CID))["data"]
        if g["purchase_id"] == "P01"
    )
    page_url = f"/console/accounts/{grant['account_id']}"
    action = f"/console/grants/{grant['id']}/reinstate"
    assert "Re-open" not in site.client("finance").get(page_url).text
    wang = site.client("wang")
    page = wang.get(page_url).text
    assert f'action="{action}"' in page and 'name="reason"' in page
    first = post_form(wang, page_url, action, reason="she never heard of it", confirm="yes")
    assert "a second, different person must re-open it" in flash_of(first.text), first.text
    again = post_form(site.client("wang_again"), page_url, action, reason="my other key", confirm="yes")
    assert "Not re-opened: you already approved re-opening it" in flash_of(again.text)
    li = site.client("li", **{"Accept-Language": "zh-CN"})
    done = post_form(li, page_url, action, reason="同意", confirm="yes")
    assert f"红包 {grant['id']} 已重新开放" in flash_of(done.text), done.text
    assert f'action="{action}"' not in done.text  # issued again: nothing to re-open
    assert verify_ledger(site.app.uow).ok
    audit = [a.record.action for a in site.store.audit_page(None, 10, f"grant:{grant['id']}")]
    assert audit == ["grant.reinstate"] * 2  # the refused one is not a change


def test_a_reason_and_the_confirmation_are_needed(site: Site) -> None:
    grant = grants_json(list_grants(site.app.uow, campaign_id=CID))["data"][0]
    page_url = f"/console/accounts/{grant['account_id']}"
    action = f"/console/grants/{grant['id']}/reinstate"
    wang = site.client("wang", **{"Accept-Language": "zh-CN"})
    unconfirmed = post_form(wang, page_url, action, reason="x")
    assert "请先勾选确认框" in flash_of(unconfirmed.text), unconfirmed.text
    blank = post_form(wang, page_url, action, reason="  ", confirm="yes")
    assert "请填写重新开放的原因" in flash_of(blank.text)
    finance = post_form(site.client("finance"), page_url, action, reason="x", confirm="yes")
    assert finance.status_code == 403
    assert grant["state"] == "expired" and verify_ledger(site.app.uow).ok
    assert all(
        g["state"] == "expired" for g in grants_json(list_grants(site.app.uow, campaign_id=CID))["data"]
    )


Site = Console
