"""The console over a real server on SQLite and PostgreSQL: misspelt files, form fields and queries.

A refused file goes back to its form with the reason inline; nothing is stored.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest

from tests.integration.test_api_support import Api, running_api
from tests.integration.test_api_unknown_fields import snapshot
from tests.unit.test_documents import BOMB

NEW = "/console/campaigns/new"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def flash_of(page: str) -> str:
    found = re.search(r'<div class="flash (?:ok|error)" role="(?:status|alert)">([^<]*)</div>', page)
    return html.unescape(found.group(1)) if found else ""


@pytest.fixture
def admin(db_url: str) -> Iterator[tuple[Api, httpx.Client]]:
    with running_api(db_url) as api, httpx.Client(base_url=api.url, timeout=60) as browser:
        page = browser.get("/console/sign-in")
        signed = browser.post(
            "/console/sign-in",
            data={"csrf": csrf_of(page.text), "key": api.keys["admin"], "next": "/console/"},
        )
        assert signed.status_code == 303, signed.text
        yield api, browser


def apply(browser: httpx.Client, document: str, **extra: str) -> httpx.Response:
    token = csrf_of(browser.get(NEW).text)
    return browser.post(
        NEW, data={"csrf": token, "back": NEW, "document": document, **extra}, follow_redirects=True
    )


def test_a_misspelt_file_is_refused_inline_and_nothing_stored(admin: tuple[Api, httpx.Client]) -> None:
    api, browser = admin
    before = snapshot(api)
    text = resources.files("pledge.examples").joinpath("founders-refund.yaml").read_text(encoding="utf-8")
    page = apply(browser, text.replace("per_account: 1", "per_acount: 1"))
    assert flash_of(page.text) == "limits.per_acount: unknown field; did you mean per_account?"
    page = apply(browser, text.replace("  claim_within: 30d", "  claim_whithin: 30d"))
    assert flash_of(page.text) == "payout.claim_whithin: unknown field; did you mean claim_within?"
    page = apply(browser, BOMB.decode())
    assert flash_of(page.text) == "body line 1: anchor &a refused: files may not use anchors"
    page = apply(browser, text, documnet="x")
    assert flash_of(page.text) == "documnet: unknown form field; did you mean document?"
    assert snapshot(api) == before
    assert "Applied founders-refund" in flash_of(apply(browser, text).text)


def test_an_unknown_query_parameter_is_refused(admin: tuple[Api, httpx.Client]) -> None:
    _, browser = admin
    assert browser.get("/console/campaigns?lang=en").status_code == 200
    page = browser.get("/console/campaigns/new?exampel=cloud-double-11-v1.yaml")
    assert page.status_code == 400
    assert "exampel: unknown query parameter; did you mean example?" in html.unescape(page.text)
