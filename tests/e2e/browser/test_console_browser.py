"""Scenario A, customer service and the customer page, clicked through in a real browser."""

from __future__ import annotations

import re
import time
from importlib import resources
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.e2e.browser.conftest import Served

CAMPAIGN = "founders-refund-2"  # the console offers the example under a free id: the demo used the first


def test_operator_flow_apply_simulate_approve_launch_run(person: Any, served: Served) -> None:
    # The admin applies a copy of the example and looks at the dry run.
    admin = person("ops.li")
    page = admin.sign_in()
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    admin.shot("01-campaigns")
    page.get_by_role("link", name="New campaign or terms version").click()
    field = page.get_by_label("Campaign file (YAML)")
    expect(field).to_have_value(re.compile(f"id: {CAMPAIGN}\n"))
    # The demo's founders-refund paid these buyers already: a copy in the same promise group would
    # pay nobody (ADR 15), so this one is a promise of its own.
    field.fill(field.input_value() + "group: browser-tests\n")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text(f"Applied {CAMPAIGN}: version 1")
    expect(page.get_by_role("heading", name="Terms versions side by side")).to_be_visible()
    assert page.get_by_role("link", name="Approve").count() == 0  # an admin key may not approve at all
    admin.shot("02-campaign-draft")

    page.get_by_role("link", name="Dry run").first.click()
    expect(page.get_by_role("heading", name=re.compile("Dry run of"))).to_be_visible()
    reach = int(page.get_by_test_id("reach").inner_text().replace(",", ""))
    assert reach > 1000
    expect(page.get_by_test_id("cost")).to_have_text(re.compile(r"^¥[\d,]+\.\d\d$"))
    expect(page.locator("#conditions")).to_contain_text('purchase.sku == "mi-1"')
    expect(page.get_by_role("img", name=re.compile("Near misses per day"))).to_be_visible()
    page.get_by_label("Widen the window by (days, each side)").fill("3")
    page.get_by_role("button", name="What if?").click()
    expect(page.locator("#what-if-result")).to_contain_text("Widened by 3 day(s) each side")
    added = int(page.get_by_test_id("added-reach").inner_text().lstrip("+").replace(",", ""))
    assert added > 0
    expect(page.get_by_test_id("added-cost")).to_have_text(re.compile(r"^\+¥[\d,]+\.\d\d$"))
    admin.shot("03-dry-run-what-if")

    # Four-eyes: a second person, with an approver key, approves exactly what they reviewed.
    approver = person("finance.wang")
    page = approver.sign_in(f"/console/campaigns/{CAMPAIGN}")
    page.goto(f"{served.url}/console/campaigns/{CAMPAIGN}")
    page.get_by_role("link", name="Approve", exact=True).click()
    expect(page.get_by_role("heading", name=f"Approve the terms of {CAMPAIGN}?")).to_be_visible()
    approver.shot("04-approve-confirm")
    page.get_by_role("button", name="Approve this version").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 approved by finance.wang")

    # The operator launches and runs; the run is a job the page follows.
    operator = person("ops.zhao")
    page = operator.sign_in()
    page.goto(f"{served.url}/console/campaigns/{CAMPAIGN}")
    page.get_by_role("link", name="Launch", exact=True).click()
    page.get_by_role("button", name="Launch and fund the budget").click()
    expect(page.get_by_role("status")).to_contain_text(f"{CAMPAIGN} is active")
    page.get_by_role("link", name="Issue grants", exact=True).click()
    operator.shot("05-run-confirm")
    page.get_by_role("button", name="Issue grants now").click()
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=120_000)
    expect(page.locator("#job")).to_contain_text(f"{reach:,}".split(",")[0])
    operator.shot("06-run-done")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("img", name=re.compile("Issued, claimed and expired"))).to_be_visible()
    expect(page.locator(".figures")).to_contain_text("¥")
    audit = page.locator("section", has=page.get_by_role("heading", name="Audit trail"))
    for action in ("campaign.apply", "campaign.approve", "campaign.launch", "campaign.run"):
        expect(audit).to_contain_text(action)
    operator.shot("07-campaign-active")

    page.goto(f"{served.url}/console/campaigns/{CAMPAIGN}?lang=zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="审计记录")).to_be_visible()
    operator.shot("08-campaign-zh-CN")


def test_support_lookup_and_refund(person: Any, served: Served) -> None:
    support = person("cs.chen")
    page = support.sign_in()
    page.get_by_role("link", name="Accounts").click()
    page.get_by_label(re.compile("^Account, email, phone")).fill("cloud-diamond-buyer")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=re.compile("Account cloud-diamond-buyer"))).to_be_visible()
    expect(page.locator("#verdict")).to_be_visible()  # explained per condition (no purchases: no)
    support.shot("09-support-account")
    subscriptions = page.locator("#subscriptions")
    expect(subscriptions).to_contain_text("¥816.00")
    subscriptions.get_by_role("link", name="Refund").first.click()
    expect(page.get_by_role("heading", name=re.compile("Refund subscription"))).to_be_visible()
    page.get_by_label(re.compile("Refund in full")).check()
    page.get_by_role("button", name="Refund").click()
    # Not confirmed: the browser's own validation keeps the form from going.
    expect(page.get_by_role("heading", name=re.compile("Refund subscription"))).to_be_visible()
    page.get_by_label(re.compile("I have told customer")).check()
    support.shot("10-refund-confirm")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_contain_text("Refunded ¥816.00, charged ¥0.00: net refund ¥816.00")
    expect(page.locator("#subscriptions")).to_contain_text("refunded")
    support.shot("11-refund-done")
    with served.api("cs.chen") as api:
        terms = api.get("/subscriptions", params={"account": "cloud-diamond-buyer"}).json()["data"]
    assert any(t["state"] == "refunded" for t in terms)


def _campaign_with_envelopes(served: Served, campaign_id: str) -> None:
    """Through the API (the browser part is the customer's): a small campaign that pays demo-last-second."""
    document = yaml.safe_load(resources.files("pledge.examples").joinpath("founders-refund.yaml").read_text())
    document["id"], document["name"] = campaign_id, "Customer test"
    document["group"] = campaign_id  # a promise of its own: the demo's campaign paid these buyers already
    with served.api("ops.li") as admin, served.api("finance.wang") as approver, served.api("ops.zhao") as op:
        assert admin.post("/campaigns", json=document).status_code == 200
        assert approver.post(f"/campaigns/{campaign_id}/approve").status_code == 200
        assert op.post(f"/campaigns/{campaign_id}/launch").status_code == 200
        job = op.post(f"/campaigns/{campaign_id}/run").json()
        while job["status"] not in ("succeeded", "failed"):
            time.sleep(0.1)
            job = op.get(f"/jobs/{job['id']}").json()
        assert job["status"] == "succeeded", job


def test_customer_checks_eligibility_and_opens_a_red_envelope(person: Any, served: Served) -> None:
    _campaign_with_envelopes(served, "founders-refund-customer")
    customer = person("demo-last-second", locale="zh-CN")
    page = customer.sign_in("/me")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # the browser's language
    expect(page.get_by_role("heading", name="我符合条件吗？为什么？")).to_be_visible()
    expect(page.locator(".eligibility").first).to_contain_text("是的")
    customer.shot("12-customer-zh-CN")
    page.goto(f"{served.url}/me/?lang=en")
    envelope = page.locator(".envelope", has_text="founders-refund-customer")
    expect(envelope).to_contain_text("a red envelope is waiting for you")
    envelope.get_by_role("button", name="Open my red envelope").click()
    expect(page.get_by_role("status")).to_contain_text("You opened your red envelope: ¥1,999.00")
    expect(page.locator(".envelope", has_text="founders-refund-customer")).to_contain_text(
        "opened: ¥1,999.00"
    )
    customer.shot("13-customer-opened")
    # Keyboard: on a fresh page the first Tab reaches the skip link, and it moves focus to the content.
    page.goto(f"{served.url}/me/?lang=en")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
