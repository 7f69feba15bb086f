"""Telling customers: channels, the built-in templates, and who is not told and why.

A *message* is one template for one account on one channel. Before it is sent, one pure decision
(:func:`decide`) says whether it may go now, and if not, one reason that ``notify plan`` counts:

- ``no_contact``: the channel needs an address the account does not have (email, phone);
- ``opted_out``: the account unsubscribed from this purpose (promotional or transactional) here;
- ``already_told``: a message on the same *topic* (template and grant, claim, offset …) went out on
  this channel before; a person hears of one envelope once per channel, whatever runs again;
- ``frequency_cap``: too many promotional messages on this channel in the cap's window;
- ``quiet_hours``: a promotional SMS outside 08:00–22:00 in the recipient's own zone. This one is a
  deferral, not a refusal: the decision says when the window opens (``not_before_us``).

The first reason that applies, in that order, is the one given, so counts add up to the
recipients left out. Transactional messages (a payout waiting for the customer, a claim decided,
compensation applied) are never capped nor held for the night: they answer something the person
did or is owed, and a mainland SMS provider sends them at any hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from pledge.domain.errors import InputError
from pledge.domain.timeutil import US_PER_DAY, from_us, parse_duration_us, to_us, zone


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    INAPP = "inapp"  # shown on /me
    WEBHOOK = "webhook"  # the company's own systems, through the signed webhooks


class Purpose(StrEnum):
    PROMOTIONAL = "promotional"  # consent-based, capped, promotional SMS only by day
    TRANSACTIONAL = "transactional"  # owed to the person: sent at any hour, never capped


class Reason(StrEnum):
    NO_CONTACT = "no_contact"
    OPTED_OUT = "opted_out"
    ALREADY_TOLD = "already_told"
    FREQUENCY_CAP = "frequency_cap"
    QUIET_HOURS = "quiet_hours"


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    name: str
    purpose: Purpose
    params: tuple[str, ...]  # what a message of this template must carry, by name


_GRANT_PARAMS: Final = ("campaign_name", "amount_minor", "currency", "claim_deadline_us", "timezone")
TEMPLATES: Final[Mapping[str, TemplateSpec]] = {
    spec.name: spec
    for spec in (
        TemplateSpec("grant_issued", Purpose.PROMOTIONAL, _GRANT_PARAMS),
        TemplateSpec("grant_expiring", Purpose.PROMOTIONAL, (*_GRANT_PARAMS, "days_left")),
        TemplateSpec(
            "payout_confirm",
            Purpose.TRANSACTIONAL,
            ("campaign_name", "amount_minor", "currency", "confirm_before_us", "timezone"),
        ),
        TemplateSpec(
            "compensation_applied",
            Purpose.TRANSACTIONAL,
            ("service_name", "days_added", "ends_at_us", "timezone"),
        ),
        TemplateSpec(
            "claim_decided",
            Purpose.TRANSACTIONAL,
            ("campaign_name", "claim_id", "decision", "amount_minor", "currency"),
        ),
    )
}
# "recorded": approved, the purchase is on record, but it earns no envelope (a limit or the budget).
CLAIM_DECISIONS: Final = ("approved", "recorded", "rejected")


def template(name: str) -> TemplateSpec:
    spec = TEMPLATES.get(name)
    if spec is None:
        raise InputError(
            f"template: {name!r} is not one of {', '.join(TEMPLATES)}",
            param="template",
        )
    return spec


def check_params(spec: TemplateSpec, params: Mapping[str, object]) -> None:
    """Refuse a message whose parameters do not match its template, naming the first missing one."""
    missing = [name for name in spec.params if name not in params]
    if missing:
        raise InputError(
            f"{spec.name}: parameter {missing[0]!r} is missing (needs {', '.join(spec.params)})",
            param=missing[0],
        )
    if spec.name == "claim_decided" and params["decision"] not in CLAIM_DECISIONS:
        raise InputError(
            f"claim_decided: decision {params['decision']!r} is not one of {', '.join(CLAIM_DECISIONS)}",
            param="decision",
        )


def topic_of(template_name: str, subject_id: str, detail: str = "") -> str:
    """What a message is about, for "already told": ``grant_expiring:G1:7d``, ``grant_issued:G1``."""
    return ":".join(part for part in (template_name, subject_id, detail) if part)


@dataclass(frozen=True, slots=True)
class Recipient:
    """An account as a notification sees it (contacts in their stored form, see domain/contacts.py)."""

    account_id: str
    email: str = ""
    phone: str = ""
    locale: str = "zh-CN"
    wechat_openid: str = ""
    timezone: str = "Asia/Shanghai"  # the recipient's civil time, for quiet hours
    opted_out: frozenset[tuple[Channel, Purpose]] = frozenset()

    def address(self, channel: Channel) -> str:
        """Where a message on ``channel`` goes; ``""`` when the account has no such address."""
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.SMS:
            return self.phone
        return self.account_id  # in-app and webhook messages are addressed to the account itself


def opt_out_all(channel: Channel) -> frozenset[tuple[Channel, Purpose]]:
    """An unsubscribe from everything on a channel (an SMS "STOP"/"T" reply)."""
    return frozenset((channel, purpose) for purpose in Purpose)


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A message that went out earlier to the same account (history for the decision)."""

    channel: Channel
    topic: str
    purpose: Purpose
    sent_at_us: int


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    max_messages: int
    window_us: int


@dataclass(frozen=True, slots=True)
class SendingWindow:
    """Local hours in which promotional SMS may go: ``[opens, closes)`` on every local day."""

    opens: time = time(8, 0)
    closes: time = time(22, 0)


@dataclass(frozen=True, slots=True)
class Policy:
    caps: Mapping[Channel, FrequencyCap] = field(
        default_factory=lambda: {
            Channel.SMS: FrequencyCap(2, US_PER_DAY),
            Channel.EMAIL: FrequencyCap(3, US_PER_DAY),
        }
    )
    promotional_sms_window: SendingWindow = SendingWindow()


DEFAULT_POLICY: Final = Policy()


@dataclass(frozen=True, slots=True)
class Decision:
    send: bool
    reason: Reason | None = None
    not_before_us: int | None = None  # for quiet hours: when the recipient's window opens


def in_window(now_us: int, tz: ZoneInfo, window: SendingWindow) -> bool:
    local = from_us(now_us, tz).time()
    return window.opens <= local < window.closes


def window_opens_after(now_us: int, tz: ZoneInfo, window: SendingWindow) -> int:
    """The first instant at or after ``now_us`` inside the window, in the recipient's zone.

    Computed on local dates and turned back into an instant by the zone database, so a DST change
    overnight moves the instant, not the local opening hour.
    """
    if in_window(now_us, tz, window):
        return now_us
    local = from_us(now_us, tz)
    day = local.date() if local.time() < window.opens else local.date() + timedelta(days=1)
    while True:  # once, or twice where a zone's transition makes that day's opening odd
        opening = to_us(datetime.combine(day, window.opens, tzinfo=tz))
        if opening > now_us and in_window(opening, tz, window):
            return opening
        day += timedelta(days=1)


def decide(
    recipient: Recipient,
    channel: Channel,
    spec: TemplateSpec,
    topic: str,
    now_us: int,
    history: Iterable[SentRecord] = (),
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """Whether one message may be sent now, or the first reason it may not (see the module doc)."""
    if not recipient.address(channel):
        return Decision(False, Reason.NO_CONTACT)
    if (channel, spec.purpose) in recipient.opted_out:
        return Decision(False, Reason.OPTED_OUT)
    earlier = [record for record in history if record.channel is channel]
    if any(record.topic == topic for record in earlier):
        return Decision(False, Reason.ALREADY_TOLD)
    if spec.purpose is Purpose.TRANSACTIONAL:
        return Decision(True)
    cap = policy.caps.get(channel)
    if cap is not None:
        since_us = now_us - cap.window_us
        recent = sum(
            1 for r in earlier if r.purpose is Purpose.PROMOTIONAL and since_us < r.sent_at_us <= now_us
        )
        if recent >= cap.max_messages:
            return Decision(False, Reason.FREQUENCY_CAP)
    if channel is Channel.SMS:
        tz = zone(recipient.timezone, param="recipient.timezone")
        window = policy.promotional_sms_window
        if not in_window(now_us, tz, window):
            return Decision(False, Reason.QUIET_HOURS, window_opens_after(now_us, tz, window))
    return Decision(True)


# Reminders before an envelope expires ----------------------------------------------------------

DEFAULT_REMIND_BEFORE: Final = ("7d", "1d")


@dataclass(frozen=True, slots=True)
class Reminder:
    offset: str  # as written in the campaign, "7d": also the topic's detail
    due_at_us: int


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    send: Reminder | None  # the one reminder to send now, if any
    superseded: tuple[Reminder, ...]  # due but overtaken by a later one: recorded, never sent


def reminder_offsets_us(
    offsets: Sequence[str], *, param: str = "notify.remind_before"
) -> list[tuple[str, int]]:
    """Parse offsets (``["7d", "1d"]``), refusing duplicates, nearest to expiry last."""
    parsed = [(text, parse_duration_us(text, param=param)) for text in offsets]
    seen: dict[int, str] = {}
    for text, offset_us in parsed:
        if offset_us in seen:
            raise InputError(f"{param}: {text!r} is the same offset as {seen[offset_us]!r}", param=param)
        seen[offset_us] = text
    return sorted(parsed, key=lambda item: -item[1])


def reminders(expires_at_us: int, issued_at_us: int, offsets: Sequence[str]) -> list[Reminder]:
    """The reminders of one envelope, earliest first.

    An offset whose instant falls at or before issuance is dropped: an envelope issued three days
    before it expires gets its ``grant_issued`` message, not a "7 days left" one as well.
    """
    return [
        Reminder(text, expires_at_us - offset_us)
        for text, offset_us in reminder_offsets_us(offsets)
        if expires_at_us - offset_us > issued_at_us
    ]


def reminder_due(
    expires_at_us: int, issued_at_us: int, offsets: Sequence[str], now_us: int, sent: Iterable[str] = ()
) -> ReminderPlan:
    """What a reminder worker does for one unopened envelope at ``now_us``.

    At most one reminder goes out: if the worker was down past two offsets, the person hears the
    latest ("1 day left"), and the earlier offset is recorded as superseded so it never goes
    later either. Nothing is sent once the envelope has expired.
    """
    done = set(sent)
    due = [
        r
        for r in reminders(expires_at_us, issued_at_us, offsets)
        if r.due_at_us <= now_us and r.offset not in done
    ]
    if not due or now_us >= expires_at_us:
        return ReminderPlan(None, tuple(due))
    return ReminderPlan(due[-1], tuple(due[:-1]))


def days_left(expires_at_us: int, now_us: int) -> int:
    """Whole days left, rounded up (an envelope expiring in 20 hours has "1 day" left)."""
    remaining_us = max(expires_at_us - now_us, 0)
    return -(-remaining_us // US_PER_DAY)


# What a channel says back ---------------------------------------------------------------------


class Outcome(StrEnum):
    SENT = "sent"  # accepted by the server or gateway
    RETRY = "retry"  # not sent; try again (after retry_after_us when given)
    FAILED = "failed"  # will never be sent: a bounce, a refused template, an unsubscribed number


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Outcome
    reason: str = ""  # the server's or gateway's code: "smtp_550", "rate_limited_per_hour", …
    detail: str = ""
    provider_ref: str = ""
    retry_after_us: int | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message in the recipient's language, ready for its channel."""

    subject: str  # email subject; in-app title
    text: str  # email plain text; SMS text; in-app body
    html: str = ""  # email only
    sms_params: Mapping[str, str] = field(default_factory=dict)  # the approved SMS template's values


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to hand to a channel. ``message_id`` is unique per (distribution, account, channel)
    and unguessable: it names the message to servers (so a retry is recognised) and in unsubscribe links.
    """

    message_id: str
    account_id: str
    channel: Channel
    template: str
    purpose: Purpose
    locale: str
    to: str
    rendered: Rendered
    unsubscribe_url: str = ""
    recipient_timezone: str = "Asia/Shanghai"
