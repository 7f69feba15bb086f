"""A campaign's notifications page in the console (TestClient, SQLite): an operator previews a
template for one account and reads its email and SMS in that account's language; nothing is sent."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.notifications.render import Renderer
from pledge.adapters.sqlalchemy.api_store import ApiStore
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App, FixedClock
from pledge.domain.notifications import Channel
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.server import create_app
from pledge.entrypoints.web.context import Settings
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.grants import claim_grant, list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.notify import send_distribution
from pledge.usecases.notify_deliver import deliver
from tests.e2e.test_console import NOW, Console
from tests.support.data import campaign, write_files
from tests.support.notify import PUBLIC_URL, write_accounts

CID = "founders-refund"
PEOPLE = {"operator": ("ops.zhao", "operator"), "customer": ("A-cn-1", "customer")}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    monkeypatch.setenv("PLEDGE_PUBLIC_URL", PUBLIC_URL)
    app = App(f"sqlite:///{tmp_path / 'n.db'}", parse_instant(NOW))
    upgrade(app.engine)
    _, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(write_accounts(tmp_path)))
    import_purchases(app.uow, read_purchases(purchases))
    apply_campaign(app.uow, app.rules, app.clock, campaign(), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    store = ApiStore(app.engine)
    keys, key_ids = {}, {}
    for label, (name, scope) in PEOPLE.items():
        account = name if scope == "customer" else None
        key, secret = store.create_key(
            scope=scope, name=name, account_id=account, expires_at_us=None, now_us=time.time_ns() // 1_000
        )
        keys[label], key_ids[label] = secret, key.key_id
    api = create_app(app, Settings(webhook_worker=False))
    with TestClient(api):
        yield Console(api, store, keys, key_ids, app)
    app.close()


def test_an_operator_previews_a_template_for_one_account(site: Console) -> None:
    operator = site.client("operator")
    url = f"/console/campaigns/{CID}/notifications"
    assert url in operator.get(f"/console/campaigns/{CID}").text
    english = operator.get(url, params={"template": "grant_expiring", "account": "A-cn-2"}).text
    assert 'id="preview" lang="en"' in english and 'id="preview-subject"' in english
    assert "1,799.00" in english or "1799.00" in english  # A-cn-2's envelope (P03)
    chinese = operator.get(url, params={"template": "grant_issued", "account": "A-cn-1"}).text
    assert 'id="preview" lang="zh-CN"' in chinese and 'id="preview-sms"' in chinese
    assert "红包" in chinese.split('id="preview"')[1]
    missing = operator.get(url, params={"template": "grant_issued", "account": "A-cn-3"}).text
    assert 'id="preview-problem"' in missing and "no envelope" in missing
    with site.app.engine.connect() as conn:  # nothing was stored, so nothing can be sent
        assert conn.execute(text("SELECT count(*) FROM notification_messages")).scalar_one() == 0
    assert site.client("customer", base="/me").get(url, follow_redirects=False).status_code in (303, 401, 403)


def test_each_distribution_shows_its_funnel_as_a_chart_and_a_table(site: Console) -> None:
    app, at = site.app, parse_instant(NOW)
    operator = site.client("operator")
    url = f"/console/campaigns/{CID}/notifications"
    assert 'id="no-funnels"' in operator.get(url).text
    sent = send_distribution(
        app.uow, app.clock, CID, "grant_issued", (Channel.EMAIL, Channel.INAPP), 0, "ops"
    )
    deliver(app.uow, app.clock, app.wall_clock, {}, Renderer(PUBLIC_URL))  # in-app only: no email channel
    grant = list_grants(app.uow, account_id="A-cn-1").rows[0]
    claim_grant(app.uow, FixedClock(at + 60_000_000), grant.id)
    page = operator.get(url, headers={"Accept-Language": "en"}).text
    figure = page[page.index(f'id="funnel-{sent.id}"') :]
    assert '<svg class="chart"' in figure and 'role="img"' in figure and "<desc" in figure
    cells = dict(re.findall(r'data-step="(\w+)">([\d,]+)<', figure))
    # 3 holders × 2 channels; in-app to all 3; A-cn-5 has no email; two emails still queued
    assert cells == {"planned": "6", "sent": "3", "failed": "0", "suppressed": "1", "opened": "1"}
    assert "Opened afterwards" in figure and "<script" not in figure  # the chart needs no script
