"""The automatic ``grant_expiring`` reminders (ADR 26), queued by ``notify deliver``.

Per campaign and offset (``notify: {remind_before: [7d, 1d]}``, default 7 days and 1 day before
expiry) there is one distribution, created released, with a deterministic id: the unique key
(distribution, account, channel) then makes "once per offset per channel" a fact of the
database, however many workers queue the same reminder. An offset overtaken by a later one
(the worker was down past both) is stored ``suppressed`` as ``superseded``, so it never goes later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pledge.domain.distributions import DistributionState, MessageState
from pledge.domain.notifications import (
    DEFAULT_REMIND_BEFORE,
    Channel,
    reminder_due,
    reminder_offsets_us,
    template,
    topic_of,
)
from pledge.usecases.notification_ports import DistributionRecord, MessageRecord
from pledge.usecases.notify import grant_params, message_for, new_id
from pledge.usecases.ports import UnitOfWork, UnitOfWorkFactory

PAGE = 500
REMINDER = "grant_expiring"


def reminder_distribution_id(campaign_id: str, offset: str) -> str:
    digest = hashlib.sha256(f"{campaign_id}\x1f{offset}".encode()).hexdigest()
    return f"rem_{digest[:32]}"


def remind_before(document: Mapping[str, Any]) -> tuple[str, ...]:
    """A campaign's reminder offsets (its terms' ``notify.remind_before``, or the default)."""
    section = document.get("notify")
    offsets = section.get("remind_before") if isinstance(section, Mapping) else None
    if offsets is None:
        return DEFAULT_REMIND_BEFORE
    return tuple(str(o) for o in offsets)


def _campaigns(uow: UnitOfWork) -> dict[str, tuple[tuple[str, ...], tuple[str, str]]]:
    """Per cashback campaign: its offsets and (name, time zone)."""
    found = {}
    for record in uow.campaigns.all():
        versions = uow.campaigns.versions(record.campaign_id)
        if record.kind != "cashback" or not versions:
            continue
        doc = versions[-1].document
        found[record.campaign_id] = (remind_before(doc), (str(doc.get("name", "")), str(doc.get("timezone"))))
    return found


def queue_reminders(uow_factory: UnitOfWorkFactory, now_us: int, channels: Sequence[Channel]) -> int:
    """Queue every reminder due at ``now_us`` on ``channels``; returns how many were queued."""
    spec = template(REMINDER)
    queued = 0
    with uow_factory() as uow:
        campaigns = _campaigns(uow)
    if not campaigns:
        return 0
    horizon = max(max(us for _, us in reminder_offsets_us(offs)) for offs, _ in campaigns.values())
    after = ""
    while True:
        with uow_factory() as uow:
            page = uow.notifications.expiring_holders(now_us, horizon, after, PAGE)
            if not page:
                break
            after = page[-1][0].id
            accounts = sorted({p.account_id for _, p in page})
            history = uow.notifications.history(accounts)
            every = uow.notifications.history(accounts, every_state=True)
            told = {(a, r.channel, r.topic) for a, records in every.items() for r in records}
            messages: list[MessageRecord] = []
            for grant, person in page:
                if grant.campaign_id not in campaigns:
                    continue
                offsets, wording = campaigns[grant.campaign_id]
                for channel in channels:
                    if not person.address(channel):
                        continue  # reminders go to holders with an address on the channel
                    done = [
                        o
                        for o in offsets
                        if (person.account_id, channel, _topic(grant.campaign_id, o)) in told
                    ]
                    plan = reminder_due(grant.expires_at_us, grant.issued_at_us, offsets, now_us, done)
                    for r in plan.superseded:
                        messages.append(_superseded(grant, person.account_id, channel, r.offset, now_us))
                    if plan.send is None:
                        continue
                    dist = _ensure(uow, grant.campaign_id, plan.send.offset, now_us)
                    topic = _topic(grant.campaign_id, plan.send.offset)
                    params = grant_params(grant, wording, REMINDER, now_us)
                    messages.append(
                        message_for(
                            dist,
                            person,
                            channel,
                            spec,
                            topic,
                            params,
                            now_us,
                            history.get(person.account_id, []),
                        )
                    )
            for m in messages:
                _ensure(uow, grant_campaign(m), m.topic.rsplit(":", 1)[-1], now_us)
            queued += uow.notifications.add_messages(messages)
            uow.commit()
    return queued


def grant_campaign(message: MessageRecord) -> str:
    return message.topic.split(":")[1]


def _topic(campaign_id: str, offset: str) -> str:
    return topic_of(REMINDER, campaign_id, offset)


def _ensure(uow: UnitOfWork, campaign_id: str, offset: str, now_us: int) -> str:
    dist_id = reminder_distribution_id(campaign_id, offset)
    uow.notifications.add_distribution(
        DistributionRecord(
            dist_id,
            "reminder",
            campaign_id,
            REMINDER,
            (),
            DistributionState.RELEASED,
            now_us,
            "system",
            now_us,
        )
    )
    return dist_id


def _superseded(grant: Any, account_id: str, channel: Channel, offset: str, now_us: int) -> MessageRecord:
    spec = template(REMINDER)
    return MessageRecord(
        id=new_id("msg"),
        distribution_id=reminder_distribution_id(grant.campaign_id, offset),
        account_id=account_id,
        channel=channel,
        template=REMINDER,
        purpose=spec.purpose,
        topic=_topic(grant.campaign_id, offset),
        locale="",
        address="",
        params={},
        state=MessageState.SUPPRESSED,
        next_attempt_us=now_us,
        created_at_us=now_us,
        reason="superseded",
    )
