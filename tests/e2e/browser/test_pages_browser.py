"""Pages at a phone's and a desktop's width: nothing overflows its card, times name their zone, and a
job's page follows the job until it ends (with script, and without it by reloading itself)."""

from __future__ import annotations

import io
import re
import time
from importlib import resources
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.e2e.browser.conftest import Served

LONG_ACCOUNT = "acct-" + "x7" * 60 + "end"  # 128 characters, the longest id an import takes
LONG_CAMPAIGN = "founders-refund-for-the-very-first-buyers-of-the-mi-one-in-2011"  # 64: the longest slug
ROWS = 300_000  # purchases: enough for an import to take seconds
VIEWPORTS = ({"width": 375, "height": 800}, {"width": 1280, "height": 900})

# Every card on the page, checked against what it contains; tables inside `.scroll` scroll on purpose.
OVERFLOWS = """() => {
  const cards = document.querySelectorAll("header.top, main, main section, main article, " +
    "dl.figures > div, .envelope, .flash, .confirm-box, .whatif");
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\\s+/g, ".") : "");
  // Inside a box that scrolls or clips (a wide table's .scroll), content may be wider than the card.
  const clipped = (el, card) => {
    for (let up = el.parentElement; up && up !== card; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const found = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
  }
  for (const card of cards) {
    if (clipped(card, document.body)) continue;
    const box = card.getBoundingClientRect();
    if (card.scrollWidth > card.clientWidth + 1) {
      found.push(`${name(card)}: scrollWidth ${card.scrollWidth} > clientWidth ${card.clientWidth}`);
    }
    for (const el of card.querySelectorAll("*")) {
      if (clipped(el, card)) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > box.right + 1) {
        const edges = `${Math.round(r.right)} > ${Math.round(box.right)}`;
        found.push(`${name(el)} in ${name(card)}: right edge ${edges}`);
      }
    }
  }
  return found.slice(0, 10);
}"""


def _wait_job(api: Any, job: dict[str, Any]) -> dict[str, Any]:
    while job["status"] not in ("succeeded", "failed"):
        time.sleep(0.1)
        job = api.get(f"/jobs/{job['id']}").json()
    assert job["status"] == "succeeded", job["error"]
    return job


def _upload(api: Any, kind: str, text: str) -> dict[str, Any]:
    response = api.post(f"/{kind}/import", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    return dict(response.json())


def _long_data(served: Served) -> None:
    """An account, purchase and campaign with the longest ids and amounts the imports take."""
    accounts = (
        "account_id,region,registered_at,email,phone,locale,wechat_openid\n"
        f"{LONG_ACCOUNT},CN,2011-08-01T09:00:00+08:00,"
        f"{'li.lei.' * 9}x@{'subdomain-of-a-very-long-company-name.' * 4}example.com,"
        f"+8613800138000,en,o{'W' * 120}\n"
    )
    purchase_id, serial = "order-" + "9" * 122, "IMEI-" + "0123456789" * 12 + "012"
    purchases = (
        "purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n"
        f"{purchase_id},{LONG_ACCOUNT},mi-1,{serial},2011-10-01T10:00:00+08:00,99999999999.99,CNY,completed,"
        f"{'online-flagship-store-' * 2}\n"
    )
    document = yaml.safe_load(resources.files("pledge.examples").joinpath("founders-refund.yaml").read_text())
    document["id"] = LONG_CAMPAIGN
    document["name"] = "创始用户全额返还计划（2011 年 9 月 1 日至 12 月 7 日购买小米手机一代的首批用户）" * 2
    with served.api("ops.li") as admin:
        _wait_job(admin, _upload(admin, "accounts", accounts))
        _wait_job(admin, _upload(admin, "purchases", purchases))
        assert admin.post("/campaigns", json=document).status_code in (200, 201)


def test_nothing_overflows_its_card_on_a_phone_or_a_desktop(person: Any, served: Served) -> None:
    _long_data(served)
    staff = person("ops.li")
    staff.sign_in()
    support = person("cs.chen")
    support.sign_in()
    customer = person("demo-last-second")
    customer.sign_in("/me")
    pages = [
        (staff, "/console/campaigns"),
        (staff, f"/console/campaigns/{LONG_CAMPAIGN}"),
        (staff, f"/console/campaigns/{LONG_CAMPAIGN}/dry-run"),
        (staff, "/console/campaigns/founders-refund"),
        (support, f"/console/accounts/{LONG_ACCOUNT}?campaign={LONG_CAMPAIGN}"),
        (support, "/console/accounts/demo-last-second"),
        (support, "/console/accounts?q=%2B8613800138000"),
        (support, "/console/accounts?q=nobody-at-all"),
        (customer, "/me/"),
    ]
    for viewport in VIEWPORTS:
        for lang in ("en", "zh-CN"):
            for who, path in pages:
                who.page.set_viewport_size(viewport)
                sep = "&" if "?" in path else "?"
                response = who.page.goto(f"{served.url}{path}{sep}lang={lang}")
                assert response is not None and response.status == 200, f"{path}: {response}"
                expect(who.page.locator("h1")).to_be_visible()
                problems = who.page.evaluate(OVERFLOWS)
                assert problems == [], f"{path} at {viewport['width']} px in {lang}: {problems}"
        support.shot(f"20-account-long-ids-{viewport['width']}")


def test_times_name_their_zone(person: Any, served: Served) -> None:
    support = person("cs.chen")
    page = support.sign_in()
    page.goto(f"{served.url}/console/accounts/demo-last-second?campaign=founders-refund")
    expect(page.locator("#zone-note")).to_have_text("Times are shown in Asia/Shanghai.")
    # The customer's purchase, bought at the window's last second in Beijing, reads as such.
    expect(page.locator("details:not(.reinstate)")).to_contain_text("2011-12-07 23:59:59 +08:00")
    expect(page.locator("table.explain")).to_contain_text("purchased 2011-12-07 23:59:59 +08:00")
    page.goto(f"{served.url}/console/campaigns/founders-refund?lang=zh-CN")
    expect(page.locator("#zone-note")).to_have_text("时间均以 Asia/Shanghai 时区显示。")
    expect(page.locator("main")).not_to_contain_text(re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)?(Z| UTC)"))
    customer = person("demo-last-second")
    page = customer.sign_in("/me")
    expect(page.locator("#zone-note")).to_have_text("Times are shown in Asia/Shanghai.")
    expect(page.locator(".eligibility").first).to_contain_text("2011-12-07 23:59:59 +08:00")


def _many_purchases(account_id: str, rows: int) -> str:
    """Purchases of one account, long before any campaign's window (an import that takes a while)."""
    out = io.StringIO()
    out.write("purchase_id,account_id,sku,serial,purchased_at,price,currency,status,channel\n")
    for n in range(rows):
        out.write(f"bulk-{n:07d},{account_id},mi-1,,2001-01-01T00:00:00+08:00,1.00,CNY,completed,\n")
    return out.getvalue()


def test_a_job_page_follows_the_job_until_it_ends(person: Any, browser: Any, served: Served) -> None:
    staff = person("ops.li")
    page = staff.sign_in()
    # A second reader without script: the page reloads itself until the job ends.
    plain = browser.new_context(java_script_enabled=False)
    try:
        still = plain.new_page()
        still.goto(f"{served.url}/console/sign-in")
        still.get_by_label("API key").fill(served.keys["ops.li"])
        still.get_by_role("button", name="Sign in").click()
        with served.api("ops.li") as admin:
            owner = "account_id,region,registered_at\nbulk-owner,CN,2001-01-01T00:00:00+08:00\n"
            _wait_job(admin, _upload(admin, "accounts", owner))
            job = _upload(admin, "purchases", _many_purchases("bulk-owner", ROWS))
        page.goto(f"{served.url}/console/jobs/{job['id']}")
        first_status = page.locator("#job").get_attribute("data-status")
        still.goto(f"{served.url}/console/jobs/{job['id']}")
        assert first_status in ("queued", "running"), "the import ended before the page opened: use more rows"
        expect(page.locator("#job-progress")).to_contain_text(re.compile(r"Done: [\d,]+ / [\d,]+"))
        staff.shot("21-job-running")
        expect(page.locator("#job-status")).to_have_text("succeeded", timeout=120_000)
        expect(page.locator("#job-result")).to_contain_text("Rows imported")
        expect(page.locator("#job-result")).to_contain_text(f"{ROWS:,}")
        expect(still.locator("#job-status")).to_have_text("succeeded", timeout=120_000)
        expect(still.locator("#job-result")).to_contain_text(f"{ROWS:,}")
    finally:
        plain.close()
    staff.shot("22-job-done")
