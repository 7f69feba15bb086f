"""The email benchmark runs end to end at a tiny size (no timed assertions: the numbers are reported)."""

from __future__ import annotations

from email import message_from_bytes, policy

from benchmarks.notify_email import main, pledge_email

from tests.fakes.smtp_server import free_port


def test_the_email_benchmark_sends_every_message_each_way() -> None:
    result = main(["--messages", "20", "--rounds", "2"])
    assert result.received == 20 * 3 * 2  # Pledge's bytes, the 3-line message, rendered and sent
    assert result.bare_per_s > 0 and result.tiny_per_s > 0 and result.pledge_per_s > 0
    assert result.ratio == result.pledge_per_s / result.bare_per_s


def test_the_bare_loop_sends_the_email_pledge_builds() -> None:
    """The fair comparison: the same bytes on the wire, headers and both parts included."""
    sent = message_from_bytes(pledge_email(free_port()), policy=policy.default)
    assert sent["Message-ID"] and sent["List-Unsubscribe"] and sent["Content-Language"] == "zh-CN"
    assert [p.get_content_type() for p in sent.iter_parts()] == ["text/plain", "text/html"]
