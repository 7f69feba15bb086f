"""Transactional messages: one event told to one account (``claim_decided``), on every channel it has.

Each event gets a distribution of its own, released at once, with an id derived from the template
and the event's subject (``txn_…``): the unique key (distribution, account, channel) then makes
"told once" a fact of the database, however often the event is recorded again. The messages are
written in the same transaction as the event (an outbox), and ``notify deliver`` (or the server's
worker) sends them like every other message: opt-outs hold, a channel without an address is
recorded ``no_contact``, and quiet hours do not apply to a transactional message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pledge.domain.distributions import DistributionState, MessageState
from pledge.domain.notifications import Channel, template, topic_of
from pledge.usecases.notification_ports import DistributionRecord
from pledge.usecases.notify import message_for
from pledge.usecases.ports import UnitOfWork

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.INAPP)


def transactional_distribution_id(template_name: str, subject_id: str) -> str:
    digest = hashlib.sha256(f"{template_name}\x1f{subject_id}".encode()).hexdigest()
    return f"txn_{digest[:32]}"


def tell_account(
    uow: UnitOfWork,
    template_name: str,
    campaign_id: str,
    account_id: str,
    subject_id: str,
    params: Mapping[str, Any],
    now_us: int,
) -> int:
    """Queue ``template_name`` about ``subject_id`` for the account, in the caller's transaction;
    the number of messages queued (0 when it was told already or has no contact at all)."""
    spec = template(template_name)
    person = uow.notifications.recipients([account_id]).get(account_id)
    if person is None:
        return 0
    dist_id = transactional_distribution_id(template_name, subject_id)
    uow.notifications.add_distribution(
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
        )
    )
    topic = topic_of(template_name, subject_id)
    told = uow.notifications.history([account_id]).get(account_id, [])
    messages = [message_for(dist_id, person, c, spec, topic, dict(params), now_us, told) for c in CHANNELS]
    queued = uow.notifications.add_messages(messages)
    going = any(m.state is MessageState.QUEUED for m in messages)
    uow.notifications.set_distribution(dist_id, DistributionState.RELEASED, int(going and queued > 0), now_us)
    return queued
