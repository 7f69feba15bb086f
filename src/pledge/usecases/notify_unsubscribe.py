"""What a customer sees and says of our messages: the in-app messages /me lists, and one-click
unsubscribe (RFC 8058), where the message id in the link names the account, channel and purpose to
stop. Idempotent; an unknown id is not found (ids are unguessable, nothing is revealed)."""

from __future__ import annotations

from typing import Any

from pledge.domain.errors import NotFoundError
from pledge.usecases.ports import Clock, UnitOfWorkFactory


def unsubscribe(uow_factory: UnitOfWorkFactory, clock: Clock, message_id: str) -> dict[str, Any]:
    with uow_factory() as uow:
        record = uow.notifications.opt_out(message_id, clock.now_us())
        if record is None:
            raise NotFoundError(
                "this unsubscribe link is not known", code="message_not_found", param="message"
            )
        uow.commit()
    return {"unsubscribed": True, "channel": record.channel.value, "purpose": record.purpose.value}


def inapp_messages(uow_factory: UnitOfWorkFactory, account_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The account's in-app messages, newest first (what /me shows)."""
    with uow_factory() as uow:
        return uow.notifications.inapp(account_id, limit)
