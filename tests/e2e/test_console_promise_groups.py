"""The console shows what ADR 15 asks people to see: stacking at approval, a shortfall at launch,
and why a qualifying purchase has no grant on the support and customer pages."""

# ruff: noqa: F811 - ``console`` is the console test module's fixture, a fresh one for this module

from __future__ import annotations

import yaml

from pledge.usecases.issue import run_campaign
from tests.e2e.test_console import Console, console, flash_of, post_form  # noqa: F401 - fixture
from tests.support.data import campaign


def apply(console: Console, campaign_id: str, **changes: object) -> None:
    document = yaml.safe_dump(campaign(id=campaign_id, **changes), allow_unicode=True)
    done = post_form(
        console.client("admin"), "/console/campaigns/new", "/console/campaigns/new", document=document
    )
    assert f"Applied {campaign_id}: version 1" in flash_of(done.text), done.text


def approve(console: Console, campaign_id: str) -> None:
    page = f"/console/campaigns/{campaign_id}"
    assert post_form(console.client("approver"), page, f"{page}/approve").status_code == 200


def test_the_approval_page_shows_stacking_and_support_sees_why(console: Console) -> None:
    apply(console, "groups-a", group="console-groups")
    approve(console, "groups-a")
    page = "/console/campaigns/groups-a"
    assert post_form(console.client("operator"), page, f"{page}/launch").status_code == 200
    assert (
        run_campaign(console.app.uow, console.app.rules, console.app.clock, "groups-a", "ops.zhao").issued
        == 3
    )

    apply(console, "groups-b", group="console-groups", stacking="allowed")
    approver = console.client("approver")
    confirm = approver.get("/console/campaigns/groups-b/approve")
    assert 'id="stacking-warning"' in confirm.text
    assert (
        "stacking allowed: 3 qualifying purchases already paid by groups-a (3) would be paid again"
        in confirm.text
    )
    dry = console.client("admin").get("/console/campaigns/groups-b/dry-run")
    assert "STACKING ALLOWED" in dry.text
    quiet = approver.get("/console/campaigns/groups-a/approve")  # already approved: no dry run
    assert 'id="stacking-warning"' not in quiet.text

    support = console.client("support").get("/console/accounts/A-cn-1?campaign=groups-a")
    assert (
        "No grant:" in support.text and "the limit per account (1) was taken by purchase P01" in support.text
    )
    zh = console.client("support").get("/console/accounts/A-cn-4?campaign=groups-a&lang=zh-CN")
    assert "序列号 S1 的限额（1）已被购买 P01（账户 A-cn-1）占用" in zh.text
    me = console.client("customer1", base="/me").get("/me/")
    assert "the limit per account (1) was taken by purchase P01" in me.text


def test_launching_with_a_shortfall_needs_the_number_typed(console: Console) -> None:
    apply(console, "groups-short", group="console-short", budget="3000.00")
    approve(console, "groups-short")
    operator = console.client("operator")
    page = "/console/campaigns/groups-short/launch"
    confirm = operator.get(page)
    assert 'id="shortfall-warning"' in confirm.text and 'name="accept_shortfall"' in confirm.text
    assert "2 qualifying purchases would get nothing" in confirm.text
    refused = post_form(operator, page, page, accept_shortfall="1", back=page)
    assert "2 qualifying purchases would get nothing" in flash_of(refused.text)
    assert "(you accepted 1: the data changed since)" in flash_of(refused.text)
    bad = post_form(operator, page, page, accept_shortfall="two", back=page)
    assert "whole number" in flash_of(bad.text)
    assert "state-approved" in operator.get("/console/campaigns/groups-short").text
    launched = post_form(operator, page, page, accept_shortfall="2")
    assert launched.status_code == 200 and "groups-short" in flash_of(launched.text)
    audit = console.store.audit_page(None, 500, "campaign:groups-short")
    (entry,) = [a for a in audit if a.record.action == "campaign.launch"]
    assert '"accept_shortfall":2' in entry.record.after.replace(" ", "")
