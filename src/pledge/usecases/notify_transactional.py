"""Transactional messages: one event told to one account (``claim_decided``, ``payout_confirm``,
``compensation_applied``), on every channel it has.

Each event gets a distribution of its own, released at once, with an id derived from the template
and the event's subject (``txn_…``: the claim, the transfer's request id, the compensated
subscription): the unique key (distribution, account, channel) then makes "told once" a fact of the
database, however often the event is recorded again. The messages are written in the same
transaction as the event (an outbox), and ``notify deliver`` (or the server's worker) sends them like
every other message: opt-outs hold, a channel without an address is recorded ``no_contact``, and
quiet hours do not apply to a transactional message.

Many events at once (a compensation run extends hundreds of subscriptions per transaction) are
written set-based: one read of the recipients, one insert of the distributions, one of the messages,
whatever the number of events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pledge.domain.distributions import DistributionState, MessageState
from pledge.domain.notifications import Channel, template, topic_of
from pledge.usecases.notification_ports import DistributionRecord, MessageRecord
from pledge.usecases.notify import message_for
from pledge.usecases.ports import UnitOfWork

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.INAPP)


@dataclass(frozen=True, slots=True)
class Event:
    """Something one account is told about: ``subject_id`` names it (a claim, a subscription …)."""

    account_id: str
    subject_id: str
    params: Mapping[str, Any]


def transactional_distribution_id(template_name: str, subject_id: str) -> str:
    digest = hashlib.sha256(f"{template_name}\x1f{subject_id}".encode()).hexdigest()
    return f"txn_{digest[:32]}"


def tell_accounts(
    uow: UnitOfWork, template_name: str, campaign_id: str, events: Sequence[Event], now_us: int
) -> int:
    """Queue ``template_name`` about each event for its account, in the caller's transaction; the
    number of messages queued to send (an event told already adds nothing; an unknown account is
    told nothing; a channel without an address or opted out is stored suppressed, with the reason).

    No history is read: a message on this topic can only belong to this event's distribution, whose
    id the topic determines, so the unique key already answers "already told".
    """
    spec = template(template_name)
    people = uow.notifications.recipients(sorted({e.account_id for e in events}))
    distributions: list[DistributionRecord] = []
    messages: dict[str, list[MessageRecord]] = {}
    for event in events:
        person = people.get(event.account_id)
        if person is None:
            continue
        dist_id = transactional_distribution_id(template_name, event.subject_id)
        if dist_id in messages:
            continue  # the same event twice in one call
        topic = topic_of(template_name, event.subject_id)
        params = dict(event.params)
        mine = [message_for(dist_id, person, c, spec, topic, params, now_us, ()) for c in CHANNELS]
        going = any(m.state is MessageState.QUEUED for m in mine)
        distributions.append(
            DistributionRecord(
                dist_id,
                "transactional",
                campaign_id,
                template_name,
                CHANNELS,
                DistributionState.RELEASED,
                now_us,
                "system",
                now_us,
                recipients=int(going),
            )
        )
        messages[dist_id] = mine
    new = uow.notifications.add_distributions(distributions)
    written = [m for d in distributions if d.id in new for m in messages[d.id]]
    uow.notifications.add_messages(written)
    return sum(1 for m in written if m.state is MessageState.QUEUED)


def tell_account(
    uow: UnitOfWork,
    template_name: str,
    campaign_id: str,
    account_id: str,
    subject_id: str,
    params: Mapping[str, Any],
    now_us: int,
) -> int:
    """:func:`tell_accounts` for one event."""
    return tell_accounts(uow, template_name, campaign_id, [Event(account_id, subject_id, params)], now_us)
