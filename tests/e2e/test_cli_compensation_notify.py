"""Scenario B's customers are told their new end date: `campaign compensate` then `notify deliver`,
through the CLI, to a real SMTP server and the SMS gateway on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.e2e.test_cli import Pledge
from tests.support.billing import BUY_AT, CAMPAIGN_ID, EXTRA_DAYS, GOLD, PLATINUM, offer, plans, write_yaml
from tests.support.notify import Servers, servers

# Lin reads Chinese and has email and a phone; Ann reads English and has email only.
ACCOUNTS = [
    ("LIN", "CN", "2020-01-01T00:00:00+08:00", "lin@example.com", "+8613800138001", "zh-CN"),
    ("ANN", "CN", "2020-01-01T00:00:00+08:00", "ann@example.com", "", "en"),
]
# 07:00 in Shanghai is the evening before in UTC: the end date must be read in the subscription's zone.
LIN_BUYS = "2023-11-01T07:00:00+08:00"  # Platinum: +300 days, ends 2026-02-25 07:00 (24th in UTC)
COMPENSATED = "2023-11-05T10:00:00+08:00"
DELIVERED = "2023-11-05T10:05:00+08:00"


def write_accounts(folder: Path) -> Path:
    path = folder / "accounts.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "region", "registered_at", "email", "phone", "locale"])
        writer.writerows(ACCOUNTS)
    return path


def deliver(cli: Pledge, s: Servers) -> Any:
    return json.loads(cli.run("notify", "deliver", "--now", DELIVERED, "--json", env=s.env).stdout)


def body(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def test_compensated_customers_get_their_new_end_date_once(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    cli.json("import", "accounts", str(write_accounts(tmp_path)))
    cli.json("plans", "apply", str(write_yaml(tmp_path / "plans.yaml", plans())), "--actor", "ops")
    admin, approver = cli.key("admin", "growth"), cli.key("approver", "fin")
    cli.json("campaign", "apply", str(write_yaml(tmp_path / "v1.yaml", offer(1))), "--key", admin)
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", approver)
    cli.json("campaign", "launch", CAMPAIGN_ID, "--key", cli.key("operator", "op"))
    cli.json("subscriptions", "buy", "LIN", PLATINUM, "--now", LIN_BUYS)
    cli.json("subscriptions", "buy", "ANN", GOLD, "--now", BUY_AT)
    cli.json("campaign", "apply", str(write_yaml(tmp_path / "v2.yaml", offer(2))), "--key", admin)
    cli.json("campaign", "approve", CAMPAIGN_ID, "--key", approver)

    with servers() as s:
        assert deliver(cli, s)["sent"] == 0  # nothing is owed before the compensation
        done = cli.json("campaign", "compensate", CAMPAIGN_ID, "--actor", "ops", "--now", COMPENSATED)
        assert done["applied"] == 2
        sent = deliver(cli, s)
        assert (sent["sent"], sent["failed"], sent["unknown"]) == (5, 0, 0)  # 2 emails, 1 SMS, 2 in-app

        emails = {str(m["To"]): m for m in s.mailbox.received}
        assert set(emails) == {"lin@example.com", "ann@example.com"}
        lin, ann = emails["lin@example.com"], emails["ann@example.com"]
        assert str(lin["Subject"]) == f"您的「Platinum 200 GB」服务已延长 {EXTRA_DAYS[PLATINUM]} 天"
        assert "现在到期日为 2026年2月25日" in body(lin)
        assert str(lin["Content-Language"]) == "zh-CN"
        assert str(ann["Subject"]) == "Your Gold 50 GB subscription now ends on April 28, 2026"
        assert f"we added {EXTRA_DAYS[GOLD]} days to your Gold 50 GB subscription" in body(ann)
        assert "It now ends on April 28, 2026." in body(ann)
        assert "/unsubscribe/" in str(ann["List-Unsubscribe"])
        (sms,) = s.gateway.delivered
        assert sms.phone == "+8613800138001" and "2026年2月25日" in sms.text
        assert f"延长{EXTRA_DAYS[PLATINUM]}天" in sms.text and sms.purpose == "transactional"

        again = cli.json("campaign", "compensate", CAMPAIGN_ID, "--actor", "ops", "--now", COMPENSATED)
        assert again["applied"] == 0
        assert deliver(cli, s)["sent"] == 0  # idempotent: told once
        assert len(s.mailbox.received) == 2 and len(s.gateway.delivered) == 1
