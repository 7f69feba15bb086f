"""Customer service finds a customer from the console by what the customer says, over real HTTP, on
SQLite and PostgreSQL: an exact match on each field, phone and email typed any usual way, and the
page says which field matched."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx

from tests.integration.test_api_support import Api, api_fixture, scenario_fixture  # noqa: F401 - fixtures

CONTACTS = (
    "account_id,region,registered_at,email,phone,locale,wechat_openid\n"
    "A-cn-1,CN,2011-01-01T00:00:00+08:00,Li.Lei@Example.com,+86 138 0013 8000,en,oLiLei\n"
    "A-cn-2,CN,2011-01-01T00:00:00+08:00,,,,\n"
)


def _signed_in(api: Api, who: str) -> httpx.Client:
    client = httpx.Client(base_url=api.url, timeout=60)
    page = client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    done = client.post(
        "/console/sign-in", data={"csrf": token.group(1), "key": api.keys[who], "next": "/console/"}
    )
    assert done.status_code in (200, 303), done.text[:300]
    return client


def test_support_finds_a_customer_by_what_they_say(scenario: Api) -> None:
    # The same accounts again, now with how to reach them: an update of existing rows.
    response = scenario.http.post(
        "/v1/accounts/import?update=true",
        content=CONTACTS.encode(),
        headers=scenario.headers("operator", Content_Type="text/csv"),
    )
    assert scenario.wait_job(response.json()["id"])["status"] == "succeeded"
    support = _signed_in(scenario, "support")
    try:
        for query, field in (
            ("li.lei@EXAMPLE.com", "Email"),
            ("138 0013 8000", "Phone"),
            ("+8613800138000", "Phone"),
            ("P02", "order id"),
            ("S2", "device serial"),
            ("oLiLei", "WeChat openid"),
        ):
            page = support.get(f"/console/accounts?q={quote(query)}", follow_redirects=True)
            assert page.status_code == 200, page.text[:300]
            assert str(page.url.path) == "/console/accounts/A-cn-1", (query, page.url)
            matched = re.search(r'<p class="flash" role="status" id="matched">(.*?)</p>', page.text, re.S)
            assert matched and field in html.unescape(matched.group(1)), (query, matched)
            assert "li.lei@example.com" in page.text and "+8613800138000" in page.text
        # A device resold between two customers: both are listed, each with the field that matched.
        page = support.get("/console/accounts?q=S1", follow_redirects=True)
        assert str(page.url.path) == "/console/accounts"
        assert "/console/accounts/A-cn-1?matched=serial" in page.text
        assert "/console/accounts/A-cn-4?matched=serial" in page.text
        none = support.get("/console/accounts?q=nobody%40example.com&lang=zh-CN")
        assert "没有与“nobody@example.com”精确匹配的客户。" in html.unescape(none.text)
        # The account page names its zone: a CN customer's times read in Beijing time.
        page = support.get("/console/accounts/A-cn-1?lang=en")
        assert "Times are shown in Asia/Shanghai." in page.text
        assert "2011-09-01 00:00:00 +08:00" in page.text  # P01, bought at the window's first instant
    finally:
        support.close()
