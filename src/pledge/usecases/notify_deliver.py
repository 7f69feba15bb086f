"""``notify deliver``: send what is due, exactly once per (distribution, account, channel) (ADR 26).

Each message goes through three short transactions:

1. *claim*: up to a batch of due messages move ``queued → sending`` under a fresh claim token,
   committed **before** any channel is called (several workers skip each other's rows);
2. *send*: the channel is called outside any transaction;
3. *finish*: what the server said is recorded, if the claim is still ours.

A worker killed between 1 and 3 leaves the message ``sending``; once the claim is older than the
lease, the next run records it as ``unknown`` — the person may have it — and never sends it again
by itself. A transient refusal (SMTP 4xx, a gateway's rate limit) queues the message again after a
backoff, up to ``MAX_ATTEMPTS``; a permanent one is ``failed`` with the server's reason.

Before sending, a run releases distributions whose hold ended, and queues the automatic
``grant_expiring`` reminders that fell due (``usecases/notify_reminders.py``).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pledge.domain.distributions import MAX_ATTEMPTS, MessageState, backoff_us
from pledge.domain.errors import InputError
from pledge.domain.notifications import Channel, Outcome, Outgoing
from pledge.usecases.notification_ports import Finish, MessageRecord, NotificationChannel, TemplateRenderer
from pledge.usecases.notify_reminders import queue_reminders
from pledge.usecases.ports import Clock, UnitOfWorkFactory

DeliverProgress = Callable[[int, int], None]  # (handled so far, due at the start)
MAX_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class DeliveryRun:
    """What one ``notify deliver`` did: distributions released, reminders queued, messages due at the
    start, and each sent message's outcome (``retry``: queued again after a transient refusal)."""

    released: int
    reminders_queued: int
    due: int
    sent: int
    failed: int
    retry: int
    unknown: int  # claims past their lease included
    left: int  # due but not handled (``max`` reached, or claimed by another worker)


def deliver(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    wall_clock: Clock,
    senders: Mapping[Channel, NotificationChannel],
    renderer: TemplateRenderer,
    *,
    batch_size: int = 100,
    max_messages: int | None = None,
    lease_us: int = 300_000_000,
    progress: DeliverProgress | None = None,
) -> DeliveryRun:
    """Release, remind, then send due messages batch by batch until none is due (or ``max``)."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise InputError(f"batch: between 1 and {MAX_BATCH}", param="batch")
    now = clock.now_us()
    channels = (*senders, Channel.INAPP)
    with uow_factory() as uow:
        released = uow.notifications.release_due(now)
        unknown = uow.notifications.expire_claims(wall_clock.now_us() - lease_us, now)
        uow.commit()
    reminders = queue_reminders(uow_factory, now, channels)
    with uow_factory() as uow:
        due = uow.notifications.due_count(now, channels)
    limit = due if max_messages is None else min(due, max_messages)
    outcomes: Counter[str] = Counter()
    done = 0
    if progress:
        progress(0, limit)
    while done < limit:
        token = secrets.token_hex(16)
        with uow_factory() as uow:
            claimed = uow.notifications.claim(
                now, channels, min(batch_size, limit - done), token, wall_clock.now_us()
            )
            uow.commit()
        if not claimed:
            break
        for message in claimed:
            finish = _send(message, senders, renderer, now)
            with uow_factory() as uow:
                if uow.notifications.finish(message.id, token, finish, now):
                    uow.commit()
            outcomes["retry" if finish.state is MessageState.QUEUED else finish.state.value] += 1
            done += 1
            if progress:
                progress(done, limit)
    return DeliveryRun(
        released=released,
        reminders_queued=reminders,
        due=due,
        sent=outcomes["sent"],
        failed=outcomes["failed"],
        retry=outcomes["retry"],
        unknown=unknown + outcomes["unknown"],
        left=due - done,
    )


def _send(
    message: MessageRecord,
    senders: Mapping[Channel, NotificationChannel],
    renderer: TemplateRenderer,
    now: int,
) -> Finish:
    """One attempt at one claimed message; never raises."""
    try:
        rendered = renderer.render(
            message.template,
            message.locale,
            message.params,
            channel=message.channel.value,
            message_id=message.id,
        )
    except Exception as exc:  # a message that cannot be worded fails alone, named
        return Finish(MessageState.FAILED, f"render_error: {exc}"[:200])
    if message.channel is Channel.INAPP:  # written next to the account: delivered by being stored
        return Finish(MessageState.SENT, sent_at_us=now, title=rendered.subject, body=rendered.text)
    out = Outgoing(
        message.id,
        message.account_id,
        message.channel,
        message.template,
        message.purpose,
        message.locale,
        message.address,
        rendered,
        renderer.unsubscribe_url(message.id),
    )
    try:
        result = senders[message.channel].send(out)
    except Exception as exc:  # an answer we could not read: it may have gone
        return Finish(MessageState.UNKNOWN, f"no answer: {type(exc).__name__}: {exc}"[:200])
    if result.outcome is Outcome.SENT:
        return Finish(MessageState.SENT, result.reason, result.provider_ref, sent_at_us=now)
    if result.outcome is Outcome.RETRY and message.attempts < MAX_ATTEMPTS:
        wait = backoff_us(message.attempts, result.retry_after_us)
        return Finish(MessageState.QUEUED, result.reason, next_attempt_us=now + wait)
    reason = result.reason or "failed"
    if result.outcome is Outcome.RETRY:
        reason = f"{reason} (gave up after {message.attempts} attempts)"
    return Finish(MessageState.FAILED, reason)


def senders_wanted(channels: Sequence[Channel]) -> tuple[Channel, ...]:
    """The channels a worker must connect to (in-app messages are only written)."""
    return tuple(c for c in channels if c is not Channel.INAPP)
