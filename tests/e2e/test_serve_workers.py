"""`pledge serve --workers 2` on SQLite and PostgreSQL: two processes answer, a customer's rate limit
holds across both, and a console session opened on one is valid on the other (ADR 30).

Each request goes on a new connection, so the kernel spreads them over both processes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli import NOW, Pledge
from tests.support.serve import pledge_serve

REQUESTS = 12


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Pledge, str]]:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    args = ("--now", NOW, "--workers", "2", "--rate-per-account", "1/min", "--rate-per-key", "100/s")
    with pledge_serve(db_url, tmp_path, *args) as url:
        yield cli, url


def _fresh_get(url: str, headers: dict[str, str], cookies: httpx.Cookies | None = None) -> httpx.Response:
    with httpx.Client(timeout=30, cookies=cookies) as client:  # a new connection each time
        return client.get(url, headers=headers)


def test_one_limit_and_one_session_for_every_process(served: tuple[Pledge, str]) -> None:
    cli, url = served
    customer = cli.json("keys", "create", "--scope", "customer", "--account", "A-cn-1", "--name", "app")[
        "secret"
    ]
    headers = {"Authorization": f"Bearer {customer}"}
    answers = [
        _fresh_get(f"{url}/v1/accounts/A-cn-1/eligibility?campaign=founders-refund", headers).status_code
        for _ in range(REQUESTS)
    ]
    # 1/min allows a burst of one: every later request, whichever process gets it, is refused.
    assert answers[0] != 429 and answers[1:] == [429] * (REQUESTS - 1), answers

    admin = cli.json("keys", "create", "--scope", "admin", "--name", "ops")["secret"]
    with httpx.Client(base_url=url, timeout=30) as browser:
        page = browser.get("/console/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None, page.text[:500]
        signed = browser.post(
            "/console/sign-in", data={"csrf": csrf.group(1), "key": admin, "next": "/console/"}
        )
        assert signed.status_code == 303, signed.text
        cookies = browser.cookies
    pages = [_fresh_get(f"{url}/console/campaigns", {}, cookies) for _ in range(REQUESTS)]
    assert [p.status_code for p in pages] == [200] * REQUESTS  # never sent back to sign in
    assert all("sign-in" not in str(p.url) for p in pages)
