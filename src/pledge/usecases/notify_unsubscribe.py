"""What a customer sees and says of our messages: the in-app messages /me lists, and one-click
unsubscribe (RFC 8058), where the message id in the link names the account, channel and purpose to
stop. Idempotent; an unknown id is not found (ids are unguessable, nothing is revealed)."""

from __future__ import annotations

from dataclasses import dataclass

from pledge.domain.errors import NotFoundError
from pledge.domain.notifications import Channel, Purpose
from pledge.usecases.notification_ports import InappMessage
from pledge.usecases.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """The channel and purpose the message's account no longer receives."""

    channel: Channel
    purpose: Purpose


def unsubscribe(uow_factory: UnitOfWorkFactory, clock: Clock, message_id: str) -> Unsubscribed:
    with uow_factory() as uow:
        record = uow.notifications.opt_out(message_id, clock.now_us())
        if record is None:
            raise NotFoundError(
                "this unsubscribe link is not known", code="message_not_found", param="message"
            )
        uow.commit()
    return Unsubscribed(record.channel, record.purpose)


def inapp_messages(uow_factory: UnitOfWorkFactory, account_id: str, limit: int = 20) -> list[InappMessage]:
    """The account's in-app messages, newest first (what /me shows)."""
    with uow_factory() as uow:
        return uow.notifications.inapp(account_id, limit)
