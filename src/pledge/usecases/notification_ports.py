"""Ports for telling customers: a channel that sends one message, a renderer that words it (ADR 25),
and the store of distributions and their messages (ADR 26)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pledge.domain.distributions import DistributionState, MessageState
from pledge.domain.grant import Grant
from pledge.domain.notifications import (
    Channel,
    DeliveryResult,
    Outgoing,
    Purpose,
    Recipient,
    Rendered,
    SentRecord,
)


class NotificationChannel(Protocol):
    """Email, SMS, … One call is one attempt at one message; the caller records the result.

    ``send`` never raises for what the server or gateway says: a refusal is a ``DeliveryResult``
    (``sent``, ``retry`` after an optional delay, or ``failed`` for good). Sending the same
    ``message_id`` again must be safe: the channel names it to the server so a retry is recognised.
    """

    @property
    def channel(self) -> Channel: ...

    def send(self, out: Outgoing) -> DeliveryResult: ...

    def close(self) -> None: ...


class TemplateRenderer(Protocol):
    def render(
        self, name: str, locale: str, params: Mapping[str, Any], *, channel: str, message_id: str
    ) -> Rendered: ...

    def unsubscribe_url(self, message_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class DistributionRecord:
    id: str
    kind: str  # "manual" (notify send), "reminder" (grant_expiring) or "transactional" (one event's)
    campaign_id: str
    template: str
    channels: tuple[Channel, ...]
    state: DistributionState
    hold_until_us: int
    created_by: str
    created_at_us: int
    recipients: int = 0


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One (distribution, account, channel): the unit that is sent at most once."""

    id: str  # unguessable: the unsubscribe token and the servers' idempotency key
    distribution_id: str
    account_id: str
    channel: Channel
    template: str
    purpose: Purpose
    topic: str
    locale: str
    address: str
    params: Mapping[str, Any]
    state: MessageState
    next_attempt_us: int
    created_at_us: int
    reason: str = ""
    attempts: int = 0
    claim_token: str = ""
    sent_at_us: int | None = None
    provider_ref: str = ""


@dataclass(frozen=True, slots=True)
class Holder:
    """An account holding unopened envelopes of a campaign, as a message needs it."""

    recipient: Recipient
    grants: Sequence[Grant]  # its unopened grants of the campaign, soonest to expire first


@dataclass(frozen=True, slots=True)
class Finish:
    """What became of one claimed message."""

    state: MessageState
    reason: str = ""
    provider_ref: str = ""
    next_attempt_us: int | None = None  # for a retry: queued again, due then
    sent_at_us: int | None = None
    title: str = ""  # in-app: what /me shows
    body: str = ""


@dataclass(frozen=True, slots=True)
class InappMessage:
    """An in-app message as /me shows it."""

    id: str
    template: str
    locale: str
    title: str
    body: str
    created_at_us: int  # when it was sent


class NotificationStore(Protocol):
    """Distributions, their messages and opt-outs (``notification_*`` tables)."""

    def recipients(self, account_ids: Sequence[str]) -> dict[str, Recipient]:
        """The accounts (those that exist) as notifications see them: contacts, language, opt-outs."""
        ...

    def holders(self, campaign_id: str, after_account: str, limit: int) -> list[Holder]:
        """Accounts after ``after_account`` (in id order, at most ``limit``) holding unopened grants
        of the campaign, with their contacts and opt-outs."""
        ...

    def expiring_holders(
        self, now_us: int, horizon_us: int, after_grant: str, limit: int
    ) -> list[tuple[Grant, Recipient]]:
        """Unopened grants expiring in ``(now, now + horizon]`` after ``after_grant`` in id order."""
        ...

    def history(
        self, account_ids: Sequence[str], *, every_state: bool = False
    ) -> dict[str, list[SentRecord]]:
        """What each account was told or is about to be (queued, sending, sent, unknown); with
        ``every_state``, every message but cancelled ones (suppressed included)."""
        ...

    def add_distribution(self, record: DistributionRecord) -> bool:
        """False (and nothing written) if a distribution with this id exists."""
        ...

    def add_distributions(self, records: Sequence[DistributionRecord]) -> set[str]:
        """Insert the distributions whose id is new, in one statement; returns their ids."""
        ...

    def get_distribution(
        self, distribution_id: str, *, for_update: bool = False
    ) -> DistributionRecord | None: ...
    def set_distribution(
        self, distribution_id: str, state: DistributionState, recipients: int, now_us: int
    ) -> None: ...
    def add_messages(self, records: Sequence[MessageRecord]) -> int:
        """Insert the messages whose (distribution, account, channel) is new, set-based (a bounded
        number of statements whatever their number); returns how many."""
        ...

    def release_due(self, now_us: int) -> int:
        """Release held distributions whose hold has ended; returns how many."""
        ...

    def cancel_queued(self, distribution_id: str, now_us: int) -> int: ...
    def due_count(self, now_us: int, channels: Sequence[Channel]) -> int: ...
    def claim(
        self, now_us: int, channels: Sequence[Channel], limit: int, token: str, wall_us: int
    ) -> list[MessageRecord]:
        """Up to ``limit`` due queued messages of released distributions on ``channels``, moved to
        ``sending`` under ``token`` (rows another transaction holds are skipped)."""
        ...

    def finish(self, message_id: str, token: str, finish: Finish, now_us: int) -> bool:
        """Record a claimed message's outcome; False if the claim is no longer ``token``'s."""
        ...

    def expire_claims(self, older_than_wall_us: int, now_us: int) -> int:
        """Claims older than the lease with no answer become ``unknown``; returns how many. An in-app
        message is queued again instead: it is shown only once its answer is committed."""
        ...

    def counts(self, distribution_id: str) -> dict[MessageState, int]: ...
    def distributions(self, campaign_id: str, limit: int) -> list[DistributionRecord]:
        """The campaign's distributions (manual and reminders, not the transactional ones: those are
        one event's each), newest first."""
        ...

    def opened_after(self, distribution_id: str, campaign_id: str) -> int:
        """Accounts that opened an envelope of the campaign after a message of this distribution
        was sent to them (the funnel's last step)."""
        ...

    def inapp(self, account_id: str, limit: int) -> list[InappMessage]:
        """The account's in-app messages, newest first."""
        ...

    def opt_out(self, message_id: str, now_us: int) -> MessageRecord | None:
        """Unsubscribe the message's account from its channel and purpose (idempotent)."""
        ...
