"""A claim in a real browser, in both languages: a customer claims a purchase missing from the records
on /me with a photo of the receipt; customer service opens it in the console, sees the photo, and
decides; the customer sees the outcome."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from tests.e2e.browser.conftest import Served, _cli
from tests.support.images import receipt

CAMPAIGN = "founders-claims"
SERIALS = ("SN-BROWSER-EN", "SN-BROWSER-ZH")
CLAIMANTS = ("claimant-en", "claimant-zh")


@pytest.fixture(scope="module")
def claims_campaign(served: Served) -> str:
    """The founders' refund taking claims until the end of next year, and two devices in the register."""
    document = yaml.safe_load(resources.files("pledge.examples").joinpath("founders-refund.yaml").read_text())
    document.update(id=CAMPAIGN, name="Founders' refund: claims", claims={
        "open_until": "2099-12-31", "review_above": "500.00", "evidence": "required"})  # fmt: skip
    path = served.folder / "founders-claims.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    serials = served.folder / "serials.csv"
    serials.write_text(
        "serial,sku,sold_at,channel,region,activated_at\n"
        + "".join(f"{s},mi-1,2011-10-05T10:00:00+08:00,reseller,CN,\n" for s in SERIALS),
        encoding="utf-8",
    )
    accounts = served.folder / "claimants.csv"
    accounts.write_text(
        "account_id,region,registered_at\n"
        + "".join(f"{a},CN,2011-08-01T09:00:00+08:00\n" for a in CLAIMANTS),
        encoding="utf-8",
    )
    db = ("--db", served.db_url)
    _cli(served.folder, "import", "accounts", str(accounts), *db, "--json")
    for account in CLAIMANTS:  # customers with no envelope yet: the founders' limit is one per account
        created = _cli(served.folder, "keys", "create", "--scope", "customer", "--name", account, "--account",
                       account, *db, "--json")  # fmt: skip
        served.keys[account] = json.loads(created)["secret"]
    _cli(served.folder, "import", "serials", str(serials), *db, "--json")
    _cli(served.folder, "campaign", "apply", str(path), "--key", served.keys["ops.li"], *db, "--json")
    _cli(served.folder, "campaign", "approve", CAMPAIGN, "--key", served.keys["finance.wang"], *db, "--json")
    _cli(served.folder, "campaign", "launch", CAMPAIGN, "--key", served.keys["ops.zhao"], *db, "--json")
    return CAMPAIGN


EN = {"submit": "Send my claim", "received": "was received", "nav": "Claims", "approve": "Approve",
      "approved": "approved", "outcome": "approved"}  # fmt: skip
ZH = {"submit": "提交申请", "received": "已收到", "nav": "补登申请", "approve": "批准", "approved": "已批准",
      "outcome": "已批准"}  # fmt: skip
CASES = [  # (customer, customer's locale, support's locale, serial, the customer's and support's words)
    (
        CLAIMANTS[0],
        "en-US",
        "zh-CN",
        SERIALS[0],
        {**EN, **{k: ZH[k] for k in ("nav", "approve", "approved")}},
    ),
    (
        CLAIMANTS[1],
        "zh-CN",
        "en-US",
        SERIALS[1],
        {**ZH, **{k: EN[k] for k in ("nav", "approve", "approved")}},
    ),
]


@pytest.mark.parametrize(("claimant", "customer_locale", "support_locale", "serial", "words"), CASES)
def test_a_claim_with_a_photo_from_me_to_a_decision(
    person: Any,
    served: Served,
    claims_campaign: str,
    claimant: str,
    customer_locale: str,
    support_locale: str,
    serial: str,
    words: dict[str, str],
) -> None:
    customer = person(claimant, customer_locale)
    page = customer.sign_in("/me")
    form = page.locator("form.claim")
    form.locator("select[name=campaign]").select_option(claims_campaign)
    form.locator("input[name=serial]").fill(serial)
    form.locator("input[name=purchased_at]").fill("2011-10-05T10:00")
    form.locator("input[name=price]").fill("300.00")
    form.locator("input[name=evidence]").set_input_files(
        [{"name": "receipt.jpg", "mimeType": "image/jpeg", "buffer": receipt(serial, size=(320, 200))}]
    )
    form.get_by_role("button", name=words["submit"]).click()
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_contain_text(words["received"])
    mine = page.locator("#my-claims li", has_text=serial)
    expect(mine).to_have_count(1)
    claim_id = str(mine.get_attribute("id")).removeprefix("claim-")
    customer.shot(f"claim-submitted-{customer_locale}")

    support = person("cs.chen", support_locale)
    page = support.sign_in()
    page.get_by_role("navigation").get_by_role("link", name=words["nav"], exact=True).click()
    page.wait_for_load_state()
    page.locator(f"#claim-{claim_id} a").click()
    page.wait_for_load_state()
    photo = page.locator("img.evidence")
    expect(photo).to_have_count(1)
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 320  # the photo loads for a reviewer
    support.shot(f"claim-review-{support_locale}")
    page.locator("#reason").select_option("receipt_verified")
    page.get_by_role("button", name=re.compile(f"^{words['approve']}$")).click()
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_contain_text(words["approved"])
    expect(page.locator("#claim-grant")).to_contain_text("gr_")

    page = customer.page
    page.reload()
    expect(page.locator(f"#claim-{claim_id}")).to_contain_text(words["outcome"])
