"""Distributions: one template sent to a campaign's customers, held, then delivered once (ADR 26).

A *distribution* is created held (``notify send --hold 10m``): until ``hold_until_us`` it can be
cancelled and nothing leaves. It is then released and its messages are delivered in batches.

A *message* is one (distribution, account, channel), EVER: the store's unique key refuses a
second. Its states:

- ``queued``: to send at or after ``next_attempt_us`` (a retry's backoff, or quiet hours);
- ``sending``: claimed by a worker, the claim committed *before* the channel is called;
- ``sent`` / ``failed`` (with the server's reason): what the server or gateway said;
- ``unknown``: claimed, and nobody recorded an answer (the worker died mid-send). Never resent
  blindly: the person may have it already. Support sees it as such;
- ``suppressed`` (with the reason ``notify plan`` gives) and ``cancelled``: never sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pledge.domain.errors import InputError
from pledge.domain.notifications import TEMPLATES, Channel
from pledge.domain.timeutil import parse_duration_us

US_PER_S: Final = 1_000_000
DEFAULT_HOLD: Final = "10m"
MAX_HOLD_US: Final = 7 * 86_400 * US_PER_S
MAX_ATTEMPTS: Final = 5  # a transient failure is retried this many times in all, then failed
BACKOFF_BASE_US: Final = 60 * US_PER_S
BACKOFF_MAX_US: Final = 3_600 * US_PER_S
DEFAULT_LEASE: Final = "5m"  # a claim older than this with no answer is ``unknown``
DISTRIBUTED_TEMPLATES: Final = ("grant_issued", "grant_expiring")  # about a campaign's envelopes
DISTRIBUTED_CHANNELS: Final = (Channel.EMAIL, Channel.SMS, Channel.INAPP)


class DistributionState(StrEnum):
    HELD = "held"
    RELEASED = "released"
    CANCELLED = "cancelled"


class MessageState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


# What ``notify status`` counts under each of its four keys.
STATUS_KEYS: Final = {
    "queued": (MessageState.QUEUED, MessageState.SENDING),
    "sent": (MessageState.SENT,),
    "failed": (MessageState.FAILED, MessageState.UNKNOWN),
    "suppressed": (MessageState.SUPPRESSED, MessageState.CANCELLED),
}
# Messages that count as "told" for the next plan (already_told, frequency caps).
TOLD_STATES: Final = (MessageState.QUEUED, MessageState.SENDING, MessageState.SENT, MessageState.UNKNOWN)


def parse_channels(text: str) -> tuple[Channel, ...]:
    """``email,sms,inapp`` → channels, in that order, each once; anything else names itself."""
    wanted: list[Channel] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            channel = Channel(part)
        except ValueError:
            channel = None
        if channel is None or channel not in DISTRIBUTED_CHANNELS:
            names = ", ".join(c.value for c in DISTRIBUTED_CHANNELS)
            raise InputError(f"channel: {part!r} is not one of {names}", param="channel")
        if channel not in wanted:
            wanted.append(channel)
    if not wanted:
        raise InputError("channel: name at least one of email, sms, inapp", param="channel")
    return tuple(wanted)


def distributed_template(name: str) -> str:
    """A template a distribution may send: one about a campaign's unopened envelopes."""
    if name not in TEMPLATES:
        raise InputError(f"template: {name!r} is not one of {', '.join(TEMPLATES)}", param="template")
    if name not in DISTRIBUTED_TEMPLATES:
        raise InputError(
            f"template: {name!r} is sent by the step that needs it (a payout, a claim, a compensation), "
            f"not to a campaign; distributions send {', '.join(DISTRIBUTED_TEMPLATES)}",
            param="template",
        )
    return name


def parse_hold_us(text: str) -> int:
    """``10m``, ``0s``, ``2h``: how long a distribution can be cancelled before anything leaves."""
    hold = 0 if text.strip() in ("0", "0s", "0m") else parse_duration_us(text, param="hold")
    if not 0 <= hold <= MAX_HOLD_US:
        raise InputError("hold: between 0s and 7d", param="hold")
    return hold


def backoff_us(attempts: int, retry_after_us: int | None = None) -> int:
    """The wait before attempt ``attempts + 1``: 1, 2, 4 … minutes up to an hour, or what the server
    asked if longer."""
    wait: int = min(BACKOFF_BASE_US << max(attempts - 1, 0), BACKOFF_MAX_US)
    return max(wait, retry_after_us or 0)
