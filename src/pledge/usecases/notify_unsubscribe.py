"""One-click unsubscribe (RFC 8058): the message id in the link names the account, channel and
purpose to stop. Idempotent; an unknown id is not found (ids are unguessable, nothing is revealed)."""

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
