"""Distributions: plan, send (held, cancellable), cancel, status (ADR 26); delivery is in
``usecases/notify_deliver.py``.

``notify plan`` and ``notify send`` share one pass over the campaign's holders of unopened
envelopes: per account and channel, :func:`pledge.domain.notifications.decide` says whether the
message may go, or the one reason it may not. ``send`` stores every decision as a message row —
queued, or suppressed with its reason — in the transaction that creates the distribution, so what
``plan`` showed is what is sent, and ``status`` accounts for every (account, channel).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pledge.domain.distributions import (
    STATUS_KEYS,
    DistributionState,
    MessageState,
    distributed_template,
)
from pledge.domain.errors import NotFoundError, RefusedError
from pledge.domain.events import DistributionCancelled, DistributionCreated
from pledge.domain.grant import Grant
from pledge.domain.notifications import (
    Channel,
    Reason,
    Recipient,
    SentRecord,
    TemplateSpec,
    days_left,
    decide,
    template,
    topic_of,
)
from pledge.usecases.common import latest_version, require_campaign, terms_of
from pledge.usecases.notification_ports import DistributionRecord, Holder, MessageRecord
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory

PAGE = 500  # accounts per planning read


def new_id(prefix: str) -> str:
    """Unguessable: a message id is also its unsubscribe token."""
    return f"{prefix}_{secrets.token_urlsafe(18)}"


def campaign_wording(uow: UnitOfWork, campaign_id: str) -> tuple[str, str]:
    """The campaign's name and time zone, as its newest terms say."""
    terms = terms_of(latest_version(uow, campaign_id))
    return terms.name, terms.timezone


def grant_params(grant: Grant, wording: tuple[str, str], template_name: str, now_us: int) -> dict[str, Any]:
    """What a grant template is rendered from, fixed when the message is created."""
    params: dict[str, Any] = {
        "campaign_name": wording[0],
        "amount_minor": grant.amount_minor,
        "currency": grant.currency,
        "claim_deadline_us": grant.expires_at_us,
        "timezone": wording[1],
    }
    if template_name == "grant_expiring":
        params["days_left"] = days_left(grant.expires_at_us, now_us)
    return params


def message_for(
    distribution_id: str,
    person: Recipient,
    channel: Channel,
    spec: TemplateSpec,
    topic: str,
    params: dict[str, Any],
    now_us: int,
    history: Sequence[SentRecord],
) -> MessageRecord:
    """One (distribution, account, channel) with the decision taken now: queued or suppressed."""
    decision = decide(person, channel, spec, topic, now_us, history)
    state, reason, due = MessageState.QUEUED, "", now_us
    if decision.reason is Reason.QUIET_HOURS and decision.not_before_us is not None:
        due = decision.not_before_us  # held for the recipient's morning, not refused
    elif not decision.send:
        state, reason = MessageState.SUPPRESSED, (decision.reason.value if decision.reason else "")
    return MessageRecord(
        id=new_id("msg"),
        distribution_id=distribution_id,
        account_id=person.account_id,
        channel=channel,
        template=spec.name,
        purpose=spec.purpose,
        topic=topic,
        locale=person.locale,
        address=person.address(channel),
        params=params,
        state=state,
        next_attempt_us=due,
        created_at_us=now_us,
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class PlannedMessages:
    """What a plan or a send decided: accounts told on at least one channel, messages going now per
    channel (in the order asked), and those not going per reason (every reason, 0 where none)."""

    recipients: int
    by_channel: Mapping[Channel, int]
    suppressed: Mapping[Reason, int]


@dataclass(slots=True)
class PlanCounts:
    recipients: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)

    def add(self, messages: Sequence[MessageRecord]) -> None:
        going = [m for m in messages if m.state is MessageState.QUEUED]
        self.recipients += 1 if going else 0
        for m in messages:
            if m.state is MessageState.QUEUED and m.next_attempt_us <= m.created_at_us:
                self.by_channel[m.channel.value] += 1
            else:
                self.suppressed[m.reason or Reason.QUIET_HOURS.value] += 1

    def planned(self, channels: Sequence[Channel]) -> PlannedMessages:
        return PlannedMessages(
            self.recipients,
            {c: self.by_channel.get(c.value, 0) for c in channels},
            {r: self.suppressed.get(r.value, 0) for r in Reason},
        )


@dataclass(frozen=True, slots=True)
class DistributionPlan:
    """``notify plan``: who would get what now, nothing written."""

    campaign: str
    template: str
    counts: PlannedMessages


@dataclass(frozen=True, slots=True)
class DistributionSent:
    """``notify send``: the distribution created, held until ``hold_until_us``."""

    id: str
    state: DistributionState
    hold_until_us: int
    counts: PlannedMessages


@dataclass(frozen=True, slots=True)
class DistributionCounts:
    """A distribution's messages in every state (0 where none) and the four sums of
    :data:`~pledge.domain.distributions.STATUS_KEYS`."""

    queued: int
    sent: int
    failed: int  # unknown included
    suppressed: int  # cancelled included
    states: Mapping[MessageState, int]

    @property
    def planned(self) -> int:
        """Every (account, channel) decision stored."""
        return sum(self.states.values())

    @property
    def unknown(self) -> int:
        return self.states[MessageState.UNKNOWN]


def distribution_counts(found: Mapping[MessageState, int]) -> DistributionCounts:
    states = {s: found.get(s, 0) for s in MessageState}

    def total(key: str) -> int:
        return sum(states[s] for s in STATUS_KEYS[key])

    return DistributionCounts(total("queued"), total("sent"), total("failed"), total("suppressed"), states)


@dataclass(frozen=True, slots=True)
class DistributionStatus:
    """``notify status`` and ``notify cancel``: the distribution and its messages' counts."""

    record: DistributionRecord
    counts: DistributionCounts


def _holders(uow: UnitOfWork, campaign_id: str) -> Iterator[list[Holder]]:
    after = ""
    while page := uow.notifications.holders(campaign_id, after, PAGE):
        yield page
        after = page[-1].recipient.account_id


def _messages(
    uow: UnitOfWork,
    distribution_id: str,
    campaign_id: str,
    template_name: str,
    channels: Sequence[Channel],
    now_us: int,
) -> Iterator[list[MessageRecord]]:
    """Per account, its messages on ``channels``, page by page."""
    spec = template(template_name)
    wording = campaign_wording(uow, campaign_id)
    for page in _holders(uow, campaign_id):
        history = uow.notifications.history([h.recipient.account_id for h in page])
        for holder in page:
            grant = holder.grants[0]  # the envelope expiring first speaks for the account
            topic = topic_of(template_name, grant.id)
            params = grant_params(grant, wording, template_name, now_us)
            told = history.get(holder.recipient.account_id, [])
            yield [
                message_for(distribution_id, holder.recipient, c, spec, topic, params, now_us, told)
                for c in channels
            ]


def _check(uow: UnitOfWork, campaign_id: str, template_name: str) -> None:
    require_campaign(uow, campaign_id)
    distributed_template(template_name)


def plan_distribution(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    campaign_id: str,
    template_name: str,
    channels: Sequence[Channel],
) -> DistributionPlan:
    """Who would get what now, and who not and why (one reason per account and channel)."""
    now = clock.now_us()
    counts = PlanCounts()
    with uow_factory() as uow:
        _check(uow, campaign_id, template_name)
        for messages in _messages(uow, "plan", campaign_id, template_name, channels, now):
            counts.add(messages)
    return DistributionPlan(campaign_id, template_name, counts.planned(channels))


def send_distribution(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    campaign_id: str,
    template_name: str,
    channels: Sequence[Channel],
    hold_us: int,
    actor: str,
) -> DistributionSent:
    """Create a distribution held ``hold_us``: its messages are stored now, sent after the hold."""
    now = clock.now_us()
    dist_id = new_id("dist")
    counts = PlanCounts()
    with uow_factory() as uow:
        _check(uow, campaign_id, template_name)
        state = DistributionState.HELD if hold_us > 0 else DistributionState.RELEASED
        record = DistributionRecord(
            dist_id, "manual", campaign_id, template_name, tuple(channels), state, now + hold_us, actor, now
        )
        uow.notifications.add_distribution(record)
        for messages in _messages(uow, dist_id, campaign_id, template_name, channels, now):
            uow.notifications.add_messages(messages)
            counts.add(messages)
        uow.notifications.set_distribution(dist_id, state, counts.recipients, now)
        uow.record(
            DistributionCreated(
                dist_id,
                campaign_id,
                template_name,
                tuple(c.value for c in channels),
                counts.recipients,
                now + hold_us,
                actor,
                now,
            )
        )
        uow.commit()
    return DistributionSent(dist_id, state, now + hold_us, counts.planned(channels))


def _require(uow: UnitOfWork, dist_id: str, *, for_update: bool = False) -> DistributionRecord:
    record = uow.notifications.get_distribution(dist_id, for_update=for_update)
    if record is None:
        raise NotFoundError(
            f"distribution {dist_id} does not exist", code="distribution_not_found", param="distribution"
        )
    return record


def cancel_distribution(
    uow_factory: UnitOfWorkFactory, clock: Clock, dist_id: str, actor: str
) -> DistributionStatus:
    """Stop a distribution: nothing more of it is sent. Messages already claimed are not recalled."""
    now = clock.now_us()
    with uow_factory() as uow:
        record = _require(uow, dist_id, for_update=True)
        if record.state is not DistributionState.CANCELLED:
            if record.kind != "manual":
                raise RefusedError(
                    f"distribution {dist_id} is an automatic {record.template} reminder: not cancellable",
                    code="distribution_automatic",
                )
            cancelled = uow.notifications.cancel_queued(dist_id, now)
            uow.notifications.set_distribution(dist_id, DistributionState.CANCELLED, record.recipients, now)
            uow.record(DistributionCancelled(dist_id, cancelled, actor, now))
            uow.commit()
    return distribution_status(uow_factory, dist_id)


def distribution_status(uow_factory: UnitOfWorkFactory, dist_id: str) -> DistributionStatus:
    with uow_factory() as uow:
        record = _require(uow, dist_id)
        counts = uow.notifications.counts(dist_id)
    return DistributionStatus(record, distribution_counts(counts))
