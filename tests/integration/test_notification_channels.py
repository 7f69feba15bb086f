"""The email and SMS channels against real servers on loopback: aiosmtpd and the fake SMS gateway."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pledge.adapters.notifications import config
from pledge.adapters.notifications.email import SmtpEmailChannel
from pledge.adapters.notifications.render import Renderer
from pledge.adapters.notifications.sms import GatewaySmsChannel, sms_template_code
from pledge.domain.notifications import TEMPLATES, Channel, Outcome, Outgoing, Purpose, template
from pledge.domain.timeutil import to_us
from tests.fakes.sms_gateway import FakeSmsGateway, serve
from tests.fakes.smtp_server import Mailbox, authenticate, free_port, running, self_signed_certificate

PUBLIC = "https://pledge.example.com"
SHANGHAI = ZoneInfo("Asia/Shanghai")
GRANT = {
    "campaign_name": "Founders <refund>",
    "amount_minor": 199_900,
    "currency": "CNY",
    "claim_deadline_us": to_us(datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)),
    "timezone": "Asia/Shanghai",
}
PAYOUT = {**GRANT, "confirm_before_us": GRANT["claim_deadline_us"]}
renderer = Renderer(PUBLIC)


def outgoing(
    channel: Channel,
    to: str,
    *,
    name: str = "grant_issued",
    locale: str = "zh-CN",
    message_id: str = "msg_7f3a9c",
    params: dict[str, Any] | None = None,
) -> Outgoing:
    rendered = renderer.render(name, locale, params or GRANT, channel=channel.value, message_id=message_id)
    return Outgoing(
        message_id,
        "A1",
        channel,
        name,
        template(name).purpose,
        locale,
        to,
        rendered,
        renderer.unsubscribe_url(message_id),
        "Asia/Shanghai",
    )


# Email -----------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with running(mailbox) as port:
        yield mailbox, port


@pytest.fixture
def smtp_server_with_auth() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with running(mailbox, auth_required=True, auth_require_tls=False, authenticator=authenticate) as port:
        yield mailbox, port


@pytest.fixture
def smtp_server_with_starttls(tmp_path: Path) -> Iterator[tuple[Mailbox, int, Path]]:
    """STARTTLS required before AUTH, with a certificate for 127.0.0.1 made for the test."""
    cert, server_tls = self_signed_certificate(tmp_path)
    mailbox = Mailbox()
    options = {"tls_context": server_tls, "require_starttls": True, "auth_required": True}
    with running(mailbox, authenticator=authenticate, **options) as port:
        yield mailbox, port, cert


def email_channel(url: str, tls: ssl.SSLContext | None = None) -> SmtpEmailChannel:
    env = {"PLEDGE_SMTP_URL": url, "PLEDGE_MAIL_FROM": "Pledge <noreply@pledge.example.com>"}
    return SmtpEmailChannel(config.smtp(env), timeout_s=5, tls_context=tls)


def test_an_email_carries_both_parts_the_unsubscribe_headers_and_a_message_id_of_ours(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    channel = email_channel(f"smtp://127.0.0.1:{port}")
    try:
        result = channel.send(outgoing(Channel.EMAIL, "lin@example.com"))
    finally:
        channel.close()
    assert result.outcome is Outcome.SENT
    assert result.provider_ref == "<msg_7f3a9c@pledge.example.com>"
    (mail,) = mailbox.received
    assert mailbox.envelope_senders == ["noreply@pledge.example.com"]
    assert mail["Message-ID"] == "<msg_7f3a9c@pledge.example.com>"
    assert mail["List-Unsubscribe"] == f"<{PUBLIC}/unsubscribe/msg_7f3a9c>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Subject"] == "您有一个 ¥1,999.00 的红包待领取"
    assert mail["To"] == "lin@example.com"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert f"{PUBLIC}/unsubscribe/msg_7f3a9c" in text.get_content()
    assert "2026年12月31日 23:59 中国标准时间" in text.get_content()
    assert f'href="{PUBLIC}/me"' in html.get_content()
    assert "Founders &lt;refund&gt;" in html.get_content() and "<refund>" not in html.get_content()


def test_a_retry_is_the_same_message_to_the_receiver(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    channel = email_channel(f"smtp://127.0.0.1:{port}")
    try:
        first = channel.send(outgoing(Channel.EMAIL, "lin@example.com", locale="en"))
        again = channel.send(outgoing(Channel.EMAIL, "lin@example.com", locale="en"))
    finally:
        channel.close()
    assert first.outcome is again.outcome is Outcome.SENT
    assert [m["Message-ID"] for m in mailbox.received] == ["<msg_7f3a9c@pledge.example.com>"] * 2
    assert mailbox.received[0]["Subject"] == "You have a CN¥1,999.00 red envelope to open"


def test_a_4xx_is_retried_a_5xx_to_a_recipient_or_message_is_a_bounce_and_the_session_goes_on(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    channel = email_channel(f"smtp://127.0.0.1:{port}")
    try:
        busy = channel.send(outgoing(Channel.EMAIL, "busy@example.com", message_id="m1"))
        gone = channel.send(outgoing(Channel.EMAIL, "nobody@example.com", message_id="m2"))
        spam = channel.send(outgoing(Channel.EMAIL, "spam@example.com", message_id="m4"))
        fine = channel.send(outgoing(Channel.EMAIL, "lin@example.com", message_id="m3"))
        mailbox.refuse_sender = True
        ours = channel.send(outgoing(Channel.EMAIL, "lin@example.com", message_id="m5"))
    finally:
        channel.close()
    assert (spam.outcome, spam.reason) == (Outcome.FAILED, "smtp_554")
    assert (ours.outcome, ours.reason) == (Outcome.RETRY, "smtp_550")  # about us, not a bounce of lin's
    assert "Sender not allowed" in ours.detail
    assert (busy.outcome, busy.reason) == (Outcome.RETRY, "smtp_451")
    assert "Mailbox busy" in busy.detail
    assert (gone.outcome, gone.reason) == (Outcome.FAILED, "smtp_550")
    assert "No such user" in gone.detail
    assert fine.outcome is Outcome.SENT
    assert [m["Message-ID"] for m in mailbox.received] == ["<m3@pledge.example.com>"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_are_used_and_refused_credentials_are_retried_not_bounced(
    smtp_server_with_auth: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server_with_auth
    good, bad = (
        email_channel(f"smtp://pledge:s3cret@127.0.0.1:{port}"),
        email_channel(f"smtp://pledge:wrong@127.0.0.1:{port}"),
    )
    try:
        assert good.send(outgoing(Channel.EMAIL, "lin@example.com")).outcome is Outcome.SENT
        refused = bad.send(outgoing(Channel.EMAIL, "lin@example.com"))
    finally:
        good.close()
        bad.close()
    assert (refused.outcome, refused.reason) == (Outcome.RETRY, "smtp_auth_failed"), refused.detail
    assert len(mailbox.received) == 1


def test_starttls_then_credentials(smtp_server_with_starttls: tuple[Mailbox, int, Path]) -> None:
    mailbox, port, cert = smtp_server_with_starttls
    trusted = ssl.create_default_context(cafile=str(cert))
    channel = email_channel(f"smtp+starttls://pledge:s3cret@127.0.0.1:{port}", trusted)
    stranger = email_channel(f"smtp+starttls://pledge:s3cret@127.0.0.1:{port}")  # the system's CAs only
    plain = email_channel(f"smtp://pledge:s3cret@127.0.0.1:{port}")  # would send the password in clear
    try:
        assert channel.send(outgoing(Channel.EMAIL, "lin@example.com")).outcome is Outcome.SENT
        unverified = stranger.send(outgoing(Channel.EMAIL, "lin@example.com"))
        refused = plain.send(outgoing(Channel.EMAIL, "lin@example.com"))
    finally:
        for each in (channel, stranger, plain):
            each.close()
    assert (unverified.outcome, unverified.reason) == (Outcome.RETRY, "smtp_unavailable")
    assert "CERTIFICATE_VERIFY_FAILED" in unverified.detail
    assert refused.outcome is Outcome.RETRY  # the server wants STARTTLS first: not the recipient's fault
    assert len(mailbox.received) == 1


def test_no_server_is_a_retry() -> None:
    channel = email_channel(f"smtp://127.0.0.1:{free_port()}")
    result = channel.send(outgoing(Channel.EMAIL, "lin@example.com"))
    assert (result.outcome, result.reason) == (Outcome.RETRY, "smtp_unavailable")


# SMS -------------------------------------------------------------------------------------------

NOON_US = to_us(datetime(2026, 12, 4, 12, 0, tzinfo=SHANGHAI))
MINUTE_US = 60_000_000


@pytest.fixture
def gateway() -> Iterator[tuple[FakeSmsGateway, str]]:
    fake = FakeSmsGateway(now_us=NOON_US)
    for name, spec in TEMPLATES.items():  # the texts Pledge submits for approval, in both languages
        for locale in ("zh-CN", "en"):
            fake.approve(
                sms_template_code(name, locale), renderer.sms_template(name, locale), spec.purpose.value
            )
    for url in serve(fake):
        yield fake, url


def sms_channel(url: str, secret: str = "test-secret") -> GatewaySmsChannel:
    env = {"PLEDGE_SMS_URL": url.replace("http://", f"http://test-key:{secret}@") + "/?sign=Pledge"}
    return GatewaySmsChannel(config.sms(env), timeout_s=5)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_an_sms_is_the_approved_template_with_our_values(
    gateway: tuple[FakeSmsGateway, str], locale: str
) -> None:
    fake, url = gateway
    out = outgoing(Channel.SMS, "+8613800138000", locale=locale)
    result = sms_channel(url).send(out)
    assert result.outcome is Outcome.SENT and result.provider_ref == "gw-1"
    (sms,) = fake.delivered
    assert sms.text == f"【Pledge】{out.rendered.text}"
    assert sms.text.endswith("回T退订" if locale == "zh-CN" else "Reply STOP to opt out")


def test_the_same_message_id_sends_once_and_another_payload_under_it_is_refused(
    gateway: tuple[FakeSmsGateway, str],
) -> None:
    fake, url = gateway
    channel = sms_channel(url)
    first = channel.send(outgoing(Channel.SMS, "+8613800138000"))
    fake.now_us = NOON_US + 5 * MINUTE_US
    replay = channel.send(outgoing(Channel.SMS, "+8613800138000"))
    other = channel.send(outgoing(Channel.SMS, "+8613900139000"))
    assert first == replay
    assert (other.outcome, other.reason) == (Outcome.FAILED, "idempotency_conflict")
    assert len(fake.delivered) == 1


def test_a_template_not_approved_and_an_unsubscribed_number_fail_for_good(
    gateway: tuple[FakeSmsGateway, str],
) -> None:
    fake, url = gateway
    del fake.templates[sms_template_code("grant_issued", "en")]
    fake.unsubscribed.add("+8613900139000")
    channel = sms_channel(url)
    unapproved = channel.send(outgoing(Channel.SMS, "+8613800138000", locale="en", message_id="m1"))
    stopped = channel.send(outgoing(Channel.SMS, "+8613900139000", message_id="m2"))
    assert (unapproved.outcome, unapproved.reason) == (Outcome.FAILED, "template_not_approved")
    assert (stopped.outcome, stopped.reason) == (Outcome.FAILED, "recipient_unsubscribed")
    assert fake.delivered == []


def test_the_gateway_holds_a_message_to_its_approved_template_and_purpose(
    gateway: tuple[FakeSmsGateway, str],
) -> None:
    fake, url = gateway
    channel = sms_channel(url)
    out = outgoing(Channel.SMS, "+8613800138000")
    disguised = dataclasses.replace(out, purpose=Purpose.TRANSACTIONAL)  # a promotion cannot dodge the night
    short = dataclasses.replace(
        out, message_id="m2", rendered=dataclasses.replace(out.rendered, sms_params={})
    )
    assert channel.send(disguised).reason == "template_purpose_mismatch"
    assert channel.send(short).reason == "template_params_mismatch"
    assert fake.delivered == []


def test_promotional_sms_waits_for_the_morning_transactional_does_not(
    gateway: tuple[FakeSmsGateway, str],
) -> None:
    fake, url = gateway
    fake.now_us = to_us(datetime(2026, 12, 4, 23, 30, tzinfo=SHANGHAI))
    channel = sms_channel(url)
    promo = channel.send(outgoing(Channel.SMS, "+8613800138000", message_id="m1"))
    owed = channel.send(
        outgoing(Channel.SMS, "+8613900139000", name="payout_confirm", params=PAYOUT, message_id="m2")
    )
    assert (promo.outcome, promo.reason) == (Outcome.RETRY, "outside_promotional_window")
    assert promo.retry_after_us == (8 * 60 + 30) * MINUTE_US
    assert owed.outcome is Outcome.SENT
    fake.now_us = to_us(datetime(2026, 12, 5, 8, 0, tzinfo=SHANGHAI))
    assert channel.send(outgoing(Channel.SMS, "+8613800138000", message_id="m1")).outcome is Outcome.SENT


def test_per_number_limits_answer_with_their_codes_and_when_to_come_back(
    gateway: tuple[FakeSmsGateway, str],
) -> None:
    fake, url = gateway
    fake.now_us = to_us(datetime(2026, 12, 4, 8, 0, tzinfo=SHANGHAI))
    channel = sms_channel(url)

    def send(n: int) -> Any:
        return channel.send(outgoing(Channel.SMS, "+8613800138000", message_id=f"m{n}"))

    assert send(0).outcome is Outcome.SENT
    fake.now_us += 20_000_000
    minute = send(1)
    assert (minute.outcome, minute.reason, minute.retry_after_us) == (
        Outcome.RETRY,
        "rate_limited_per_minute",
        40_000_000,
    )
    for n in range(1, 5):  # five within the hour
        fake.now_us += 2 * MINUTE_US
        assert send(n).outcome is Outcome.SENT
    fake.now_us += 2 * MINUTE_US
    hour = send(5)
    assert (hour.outcome, hour.reason) == (Outcome.RETRY, "rate_limited_per_hour")
    for n in range(5, 10):  # ten within the day, at most five an hour
        fake.now_us += 61 * MINUTE_US
        assert send(n).outcome is Outcome.SENT
    fake.now_us += 61 * MINUTE_US
    day = send(10)
    assert (day.outcome, day.reason) == (Outcome.RETRY, "rate_limited_per_day")
    assert day.retry_after_us is not None and day.retry_after_us > 10 * 60 * MINUTE_US
    assert len(fake.delivered) == 10


def test_gateway_trouble_and_a_wrong_secret_are_retried(gateway: tuple[FakeSmsGateway, str]) -> None:
    fake, url = gateway
    fake.fail_next = 1
    channel = sms_channel(url)
    down = channel.send(outgoing(Channel.SMS, "+8613800138000"))
    assert (down.outcome, down.reason) == (Outcome.RETRY, "unavailable")
    assert channel.send(outgoing(Channel.SMS, "+8613800138000")).outcome is Outcome.SENT
    forged = sms_channel(url, secret="not-the-secret").send(
        outgoing(Channel.SMS, "+8613800138000", message_id="x")
    )
    assert (forged.outcome, forged.reason) == (Outcome.RETRY, "bad_signature")
    unreachable = sms_channel(f"http://127.0.0.1:{free_port()}").send(outgoing(Channel.SMS, "+8613800138000"))
    assert (unreachable.outcome, unreachable.reason) == (Outcome.RETRY, "sms_gateway_unavailable")
    assert len(fake.delivered) == 1
