"""Ports for telling customers (ADR 25): a channel that sends one message, a renderer that words it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pledge.domain.notifications import Channel, DeliveryResult, Outgoing, Rendered


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
