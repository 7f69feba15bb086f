"""Browser tests: Debian's chromium driven by Playwright against a real `pledge serve` over a demo DB.

Chromium comes from the system (``apt-get install chromium``; never ``playwright install``).
Without it the tests skip with a message; with ``PLEDGE_REQUIRE_BROWSER=1`` (set by CI) they
fail instead. Screenshots go to ``$PLEDGE_SCREENSHOTS`` (default ``test-artifacts/screenshots``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.serve import pledge_serve

REQUIRE = os.environ.get("PLEDGE_REQUIRE_BROWSER", "") == "1"
CHROMIUM = os.environ.get("PLEDGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("PLEDGE_SCREENSHOTS", "test-artifacts/screenshots"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PEOPLE = {  # name → (scope, account)
    "ops.li": ("admin", None),
    "finance.wang": ("approver", None),
    "ops.zhao": ("operator", None),
    "cs.chen": ("support", None),
    "demo-last-second": ("customer", "demo-last-second"),
}


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401 - only whether it imports
    except ImportError as exc:
        return f"the playwright package is not installed ({exc}); `make install` installs it"
    if not Path(CHROMIUM).exists():
        return f"no chromium at {CHROMIUM} (apt-get install chromium; or set PLEDGE_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    problem = _browser_problem()
    if problem:
        if REQUIRE:
            pytest.fail(f"PLEDGE_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(f"browser tests skipped: {problem}")


@dataclass
class Served:
    url: str
    db_url: str
    keys: dict[str, str]
    folder: Path
    external: list[str] = field(default_factory=list)

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/v1", headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=120
        )


def _cli(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pledge", *args],
        check=False,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"pledge {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def served(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`pledge demo` (small), one key per person, then `pledge serve` on a free port."""
    folder = tmp_path_factory.mktemp("console")
    demo_out = _cli(folder, "demo", "--purchases", "3000")
    assert "/console" in demo_out and "pk_live_" in demo_out  # the demo tells a newcomer how to sign in
    db_url = f"sqlite:///{folder / 'pledge-demo.db'}"
    keys = {}
    for name, (scope, account) in PEOPLE.items():
        extra = ["--account", account] if account else []
        created = json.loads(
            _cli(folder, "keys", "create", "--db", db_url, "--scope", scope, "--name", name, *extra, "--json")
        )
        keys[name] = created["secret"]
    with pledge_serve(db_url, folder, env={"PLEDGE_CONSOLE_SECRET": "browser-tests"}) as url:
        yield Served(url, db_url, keys, folder)


@pytest.fixture(scope="session")
def browser(served: Served) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Person:
    """One signed-in person in their own browser context (own cookies), recording every outside request."""

    def __init__(self, browser: Any, served: Served, name: str, locale: str = "en-US") -> None:
        self.served, self.name = served, name
        self.context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)

        def guard(route: Any) -> None:
            if route.request.url.startswith(served.url):
                route.continue_()
            else:  # the console must work offline: nothing may come from anywhere else
                served.external.append(route.request.url)
                route.abort()

        self.page.route("**/*", guard)

    def sign_in(self, base: str = "/console") -> Any:
        page = self.page
        page.goto(f"{self.served.url}{base}/sign-in")
        page.get_by_label(re.compile("API key|API 密钥")).fill(self.served.keys[self.name])
        page.get_by_role("button", name=re.compile("Sign in|登录")).click()
        page.wait_for_load_state()
        return page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(browser: Any, served: Served) -> Iterator[Any]:
    opened: list[Person] = []

    def open_as(name: str, locale: str = "en-US") -> Person:
        who = Person(browser, served, name, locale)
        opened.append(who)
        return who

    yield open_as
    for who in opened:
        who.close()
    assert served.external == [], f"the console fetched from outside: {served.external}"
