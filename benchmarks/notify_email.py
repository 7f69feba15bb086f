"""Emails rendered and handed to SMTP per second, against a bare smtplib loop to the same server.

    python -m benchmarks.notify_email --messages 2000

Both sides send to one aiosmtpd server on loopback over one SMTP session. The bare loop sends one
prebuilt message; Pledge's side renders ``grant_issued`` for each message (alternating zh-CN and
en), builds the email with its headers and hands it over through the email channel. The ratio is
what rendering, Babel formatting and header building cost on top of the SMTP exchange itself.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import time
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from pledge.adapters.notifications.config import smtp
from pledge.adapters.notifications.email import SmtpEmailChannel
from pledge.adapters.notifications.render import Renderer
from pledge.domain.notifications import Channel, Outcome, Outgoing, template

PARAMS = {
    "campaign_name": "Founders refund",
    "amount_minor": 199_900,
    "currency": "CNY",
    "claim_deadline_us": 1_798_732_799_000_000,
    "timezone": "Asia/Shanghai",
}
BARE = b"From: noreply@pledge.example.com\r\nTo: lin@example.com\r\nSubject: hello\r\n\r\nA red envelope.\r\n"


class _Counter:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.received += 1
        return "250 OK"


@dataclass(frozen=True)
class Result:
    messages: int
    bare_per_s: float
    pledge_per_s: float
    received: int

    @property
    def ratio(self) -> float:
        return self.pledge_per_s / self.bare_per_s


def _bare(port: int, messages: int) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as session:
        for _ in range(messages):
            session.sendmail("noreply@pledge.example.com", ["lin@example.com"], BARE)
    return messages / (time.perf_counter() - started)


def _pledge(port: int, messages: int) -> float:
    env = {
        "PLEDGE_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "PLEDGE_MAIL_FROM": "Pledge <noreply@pledge.example.com>",
    }
    channel, renderer = SmtpEmailChannel(smtp(env)), Renderer("https://pledge.example.com")
    purpose = template("grant_issued").purpose
    started = time.perf_counter()
    try:
        for n in range(messages):
            message_id, locale = f"msg_{n:08d}", ("zh-CN", "en")[n % 2]
            rendered = renderer.render("grant_issued", locale, PARAMS, channel="email", message_id=message_id)
            out = Outgoing(
                message_id,
                f"A{n}",
                Channel.EMAIL,
                "grant_issued",
                purpose,
                locale,
                "lin@example.com",
                rendered,
                renderer.unsubscribe_url(message_id),
            )
            if channel.send(out).outcome is not Outcome.SENT:
                raise RuntimeError(f"message {message_id} was not accepted")
    finally:
        channel.close()
    return messages / (time.perf_counter() - started)


def run(messages: int) -> Result:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    counter = _Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        bare = _bare(port, messages)
        pledge = _pledge(port, messages)
    finally:
        controller.stop()
    return Result(messages, bare, pledge, counter.received)


def main(argv: list[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    result = run(parser.parse_args(argv).messages)
    print(
        f"{result.messages} emails: bare smtplib {result.bare_per_s:,.0f}/s, "
        f"Pledge (render + send) {result.pledge_per_s:,.0f}/s, ratio {result.ratio:.2f}"
    )
    return result


if __name__ == "__main__":
    main()
