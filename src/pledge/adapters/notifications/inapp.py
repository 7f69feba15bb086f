"""In-app messages: what /me shows. Formatting only; the store arrives with distributions.

An in-app message needs no address and no server: it is delivered when it is written next to the
account, which is why ``send`` cannot fail here. The title and body are the template's
``inapp_title`` and ``inapp_body`` in the account's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pledge.domain.notifications import Channel, Outgoing


@dataclass(frozen=True, slots=True)
class InappMessage:
    message_id: str
    account_id: str
    template: str
    locale: str
    title: str
    body: str
    created_at_us: int

    def as_json(self) -> dict[str, Any]:
        """The shape /me reads (``created_at_us`` stays an integer, as everywhere in the API)."""
        return {
            "id": self.message_id,
            "template": self.template,
            "locale": self.locale,
            "title": self.title,
            "body": self.body,
            "created_at_us": self.created_at_us,
        }


INAPP: Final = Channel.INAPP


def inapp_message(out: Outgoing, now_us: int) -> InappMessage:
    if out.channel is not Channel.INAPP:
        raise ValueError(f"message {out.message_id} is for {out.channel}, not inapp")
    return InappMessage(
        out.message_id,
        out.account_id,
        out.template,
        out.locale,
        out.rendered.subject,
        out.rendered.text,
        now_us,
    )
