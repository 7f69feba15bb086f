"""In-app messages on /me and the one-click unsubscribe link, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx

from pledge.bootstrap import notification_renderer, notification_senders
from pledge.domain.notifications import Channel, Reason
from pledge.usecases.notify import plan_distribution, send_distribution
from pledge.usecases.notify_deliver import deliver
from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures
from tests.support.notify import servers

CONTACTS = (
    "account_id,region,registered_at,email,phone,locale\n"
    "A-cn-1,CN,2011-01-01T00:00:00+08:00,li@example.com,,en\n"
)


def _customer(api: Api) -> httpx.Client:
    client = httpx.Client(base_url=api.url, timeout=60)
    page = client.get("/me/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    done = client.post(
        "/me/sign-in", data={"csrf": token.group(1), "key": api.keys["customer"], "next": "/me/"}
    )
    assert done.status_code in (200, 303), done.text[:300]
    return client


def test_in_app_messages_show_on_me_and_the_unsubscribe_link_works(scenario: Api) -> None:
    response = scenario.http.post(
        "/v1/accounts/import?update=true",
        content=CONTACTS.encode(),
        headers=scenario.headers("operator", Content_Type="text/csv"),
    )
    assert scenario.wait_job(response.json()["id"])["status"] == "succeeded"
    app, channels = scenario.app, (Channel.EMAIL, Channel.INAPP)
    send_distribution(app.uow, scenario.clock, "founders-refund", "grant_issued", channels, 0, "ops")
    with servers() as s:
        senders = notification_senders(s.env)
        deliver(app.uow, scenario.clock, app.wall_clock, senders, notification_renderer(s.env))
        for sender in senders.values():
            sender.close()
        (email,) = [m for m in s.mailbox.received if m["To"] == "li@example.com"]
    customer = _customer(scenario)
    try:
        page = customer.get("/me/", follow_redirects=True)
        assert page.status_code == 200 and 'id="messages-h"' in page.text
        assert page.text.count('id="message-') == 1  # A-cn-1's own, in English
    finally:
        customer.close()
    link = str(email["List-Unsubscribe"]).strip("<>")
    path = "/" + link.split("/", 3)[3]
    asked = scenario.http.get(path)
    assert asked.status_code == 200 and 'method="post"' in asked.text
    plan = plan_distribution(app.uow, scenario.clock, "founders-refund", "grant_expiring", (Channel.EMAIL,))
    assert plan.counts.suppressed[Reason.OPTED_OUT] == 0  # a GET (a link scanner) unsubscribes nobody
    done = scenario.http.post(path, content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert scenario.http.post(path).status_code == 200  # again: nothing more to do
    plan = plan_distribution(app.uow, scenario.clock, "founders-refund", "grant_expiring", (Channel.EMAIL,))
    assert plan.counts.suppressed[Reason.OPTED_OUT] == 1
    assert scenario.http.post("/unsubscribe/msg_unknown").status_code == 404
