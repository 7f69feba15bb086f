"""The email benchmark runs end to end at a tiny size (no timed assertions: the numbers are reported)."""

from __future__ import annotations

from benchmarks.notify_email import main


def test_the_email_benchmark_sends_every_message_both_ways() -> None:
    result = main(["--messages", "20"])
    assert result.received == 40  # 20 bare, 20 rendered and sent by the channel
    assert result.bare_per_s > 0 and result.pledge_per_s > 0
