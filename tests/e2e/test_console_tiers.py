"""The console shows reach and cost per tier (ADR 34): the dry run before a launch, the campaign's
report after a run, in English and in Chinese. The numbers are the hand calculation's
(tests/support/tiers.py) on the console's data set, which is scenario A's."""

# ruff: noqa: F811 - ``console`` is the console test module's fixture, a fresh one for this module

from __future__ import annotations

import re

import yaml

from pledge.usecases.issue import run_campaign
from tests.e2e.test_console import Console, console, flash_of, post_form  # noqa: F401 - fixture
from tests.support.tiers import tiered_campaign


def rows_of(html: str) -> list[list[str]]:
    """The cells of the ``tiers`` table, tags stripped."""
    table = html.split('id="tiers"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_dry_run_and_the_report_show_each_tier(console: Console) -> None:
    document = yaml.safe_dump(tiered_campaign(id="tiers-console"), allow_unicode=True)
    admin = console.client("admin")
    done = post_form(admin, "/console/campaigns/new", "/console/campaigns/new", document=document)
    assert "Applied tiers-console: version 1" in flash_of(done.text), done.text

    dry = admin.get("/console/campaigns/tiers-console/dry-run")
    assert "Reach and cost per tier" in dry.text
    rows = rows_of(dry.text)
    assert [r[0] for r in rows] == ["founders", "just-missed"]
    assert rows[0][1] == "2011-09-01 to 2011-12-07" and rows[1][1] == "2011-12-08 to 2011-12-31"
    # The console's data set is scenario A's: P04 (8 Dec) falls in the second tier.
    assert [r[2] for r in rows] == ["3", "1"]
    assert "5,297.00" in rows[0][3] and "199.90" in rows[1][3]
    zh = admin.get("/console/campaigns/tiers-console/dry-run?lang=zh-CN")
    assert "各档位的覆盖与成本" in zh.text and "2011-12-08 至 2011-12-31" in zh.text

    page = "/console/campaigns/tiers-console"
    assert post_form(console.client("approver"), page, f"{page}/approve").status_code == 200
    assert post_form(console.client("operator"), page, f"{page}/launch").status_code == 200
    app = console.app
    assert run_campaign(app.uow, app.rules, app.clock, "tiers-console", "ops.zhao").issued == 4
    report = admin.get(page)
    rows = rows_of(report.text)
    assert [(r[0], r[1]) for r in rows] == [("founders", "3"), ("just-missed", "1")]
    assert "199.90" in rows[1][2] and "0.00" in rows[1][3]
    assert "已领取" in admin.get(f"{page}?lang=zh-CN").text
