"""Scenario A's holders with contacts, and the loopback SMTP server and SMS gateway to tell them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from pledge.adapters.notifications.render import Renderer
from pledge.adapters.notifications.sms import sms_template_code
from pledge.domain.notifications import TEMPLATES
from pledge.domain.records import AccountRecord
from pledge.domain.timeutil import parse_instant
from tests.fakes.sms_gateway import FakeSmsGateway, serve
from tests.fakes.smtp_server import Mailbox, running
from tests.support.data import ACCOUNTS

PUBLIC_URL = "https://pledge.example.com"
NOW = "2021-08-10T12:00:00+08:00"  # noon in Shanghai: promotional SMS may go
NIGHT = "2021-08-10T23:30:00+08:00"
# After scenario A's run, P01 (A-cn-1), P03 (A-cn-2) and P10 (A-cn-5) hold unopened envelopes.
CONTACTS = {
    "A-cn-1": ("li@example.com", "+8613800138001", "zh-CN"),  # email, SMS, in-app
    "A-cn-2": ("ann@example.com", "", "en"),  # email and in-app; no phone
    "A-cn-5": ("", "", "zh-CN"),  # in-app only
}
HOLDERS = sorted(CONTACTS)


def account_rows() -> list[tuple[str, str, str, str, str, str]]:
    return [(a, region, at, *CONTACTS.get(a, ("", "", "zh-CN"))) for a, region, at in ACCOUNTS]


def account_records() -> list[AccountRecord]:
    return [
        AccountRecord(a, region, parse_instant(at), email, phone, locale)
        for a, region, at, email, phone, locale in account_rows()
    ]


def write_accounts(folder: Path) -> Path:
    path = folder / "accounts-with-contacts.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "region", "registered_at", "email", "phone", "locale"])
        writer.writerows(account_rows())
    return path


@dataclass
class Servers:
    mailbox: Mailbox
    gateway: FakeSmsGateway
    env: dict[str, str]  # PLEDGE_* for a worker reaching both

    def emails_to(self, address: str) -> int:
        return sum(1 for m in self.mailbox.received if m["To"] == address)

    def message_ids(self) -> list[str]:
        """Every message the servers accepted, by our message id (emails and SMS)."""
        emails = [str(m["Message-ID"]).strip("<>").split("@")[0] for m in self.mailbox.received]
        return emails + [d.message_id for d in self.gateway.delivered]


@contextmanager
def servers(now_us: int | None = None) -> Iterator[Servers]:
    """A real SMTP server and the fake gateway, with every template approved in both languages."""
    mailbox = Mailbox()
    gateway = FakeSmsGateway(now_us=now_us)
    renderer = Renderer(PUBLIC_URL)
    for name, spec in TEMPLATES.items():
        for locale in ("zh-CN", "en"):
            gateway.approve(
                sms_template_code(name, locale), renderer.sms_template(name, locale), spec.purpose.value
            )
    with ExitStack() as stack:
        port = stack.enter_context(running(mailbox))
        url = stack.enter_context(contextmanager(serve)(gateway))
        env = {
            "PLEDGE_PUBLIC_URL": PUBLIC_URL,
            "PLEDGE_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "PLEDGE_MAIL_FROM": "Pledge <noreply@pledge.example.com>",
            "PLEDGE_SMS_URL": url.replace("http://", "http://test-key:test-secret@") + "/?sign=Pledge",
        }
        yield Servers(mailbox, gateway, env)
