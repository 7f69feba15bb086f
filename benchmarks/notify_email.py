"""Emails rendered and handed to SMTP per second, against a bare smtplib loop to the same server.

    python -m benchmarks.notify_email --messages 2000 [--rounds 3]

Every loop sends to one aiosmtpd server on loopback (a thread of this process) over one SMTP session
kept open for the whole loop — the policy of the email channel, which keeps its connection across a
``notify deliver`` pass. Pledge's side renders ``grant_issued`` for each message (alternating zh-CN
and en), builds the email with its headers and hands it over through the email channel. The bare
loop sends prebuilt bytes with ``sendmail``: once the very email Pledge builds (the same bytes on the
wire, so the ratio is what rendering, Babel formatting and building the message cost on top of the
SMTP exchange itself), and once a three-line message (the exchange alone). Each loop runs
``--rounds`` times, in turn, and its median rate is reported.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import statistics
import time
from dataclasses import dataclass
from email.policy import SMTP
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
TINY = b"From: noreply@pledge.example.com\r\nTo: lin@example.com\r\nSubject: hello\r\n\r\nA red envelope.\r\n"
ENV = {"PLEDGE_MAIL_FROM": "Pledge <noreply@pledge.example.com>"}


class _Counter:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.received += 1
        return "250 OK"


@dataclass(frozen=True)
class Result:
    messages: int
    rounds: int
    email_bytes: int  # the size of one of Pledge's emails on the wire (the zh-CN one)
    bare_per_s: float  # prebuilt: the same bytes as Pledge's email
    tiny_per_s: float  # prebuilt: a three-line message
    pledge_per_s: float
    received: int

    @property
    def ratio(self) -> float:
        return self.pledge_per_s / self.bare_per_s


def _bare(port: int, messages: int, payload: bytes) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as session:
        for _ in range(messages):
            session.sendmail("noreply@pledge.example.com", ["lin@example.com"], payload)
    return messages / (time.perf_counter() - started)


def _outgoing(renderer: Renderer, n: int) -> Outgoing:
    message_id, locale = f"msg_{n:08d}", ("zh-CN", "en")[n % 2]
    rendered = renderer.render("grant_issued", locale, PARAMS, channel="email", message_id=message_id)
    return Outgoing(
        message_id,
        f"A{n}",
        Channel.EMAIL,
        "grant_issued",
        template("grant_issued").purpose,
        locale,
        "lin@example.com",
        rendered,
        renderer.unsubscribe_url(message_id),
    )


def pledge_email(port: int) -> bytes:
    """One email exactly as the channel builds it (zh-CN), as it goes on the wire."""
    channel = SmtpEmailChannel(smtp({**ENV, "PLEDGE_SMTP_URL": f"smtp://127.0.0.1:{port}"}))
    return channel.email_of(_outgoing(Renderer("https://pledge.example.com"), 0)).as_bytes(policy=SMTP)


def _pledge(port: int, messages: int) -> float:
    channel = SmtpEmailChannel(smtp({**ENV, "PLEDGE_SMTP_URL": f"smtp://127.0.0.1:{port}"}))
    renderer = Renderer("https://pledge.example.com")
    started = time.perf_counter()
    try:
        for n in range(messages):
            out = _outgoing(renderer, n)
            if channel.send(out).outcome is not Outcome.SENT:
                raise RuntimeError(f"message {out.message_id} was not accepted")
    finally:
        channel.close()
    return messages / (time.perf_counter() - started)


def run(messages: int, rounds: int = 3) -> Result:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    counter = _Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    rates: dict[str, list[float]] = {"bare": [], "tiny": [], "pledge": []}
    try:
        same_bytes = pledge_email(port)
        loops = {
            "bare": lambda: _bare(port, messages, same_bytes),
            "tiny": lambda: _bare(port, messages, TINY),
            "pledge": lambda: _pledge(port, messages),
        }
        order = list(loops)
        for r in range(rounds):  # rotated, so no loop always runs first (or last)
            for name in order[r % 3 :] + order[: r % 3]:
                rates[name].append(loops[name]())
    finally:
        controller.stop()
    median = {name: statistics.median(values) for name, values in rates.items()}
    return Result(
        messages,
        rounds,
        len(same_bytes),
        median["bare"],
        median["tiny"],
        median["pledge"],
        counter.received,
    )


def main(argv: list[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.messages, args.rounds)
    print(
        f"{result.messages} emails x {result.rounds} rounds (median): bare smtplib, Pledge's bytes "
        f"({result.email_bytes:,} B) {result.bare_per_s:,.0f}/s, bare smtplib, 3-line message "
        f"{result.tiny_per_s:,.0f}/s, Pledge (render + build + send) {result.pledge_per_s:,.0f}/s, "
        f"ratio {result.ratio:.2f}"
    )
    return result


if __name__ == "__main__":
    main()
