"""The sending channels a worker needs, built from the environment (see config.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pledge.adapters.notifications import config
from pledge.adapters.notifications.email import SmtpEmailChannel
from pledge.adapters.notifications.sms import GatewaySmsChannel
from pledge.domain.notifications import Channel
from pledge.usecases.notification_ports import NotificationChannel

SENDING_CHANNELS = (Channel.EMAIL, Channel.SMS)  # in-app and webhook messages are written, not sent


def channels_from_env(
    environ: Mapping[str, str], wanted: Iterable[Channel] = SENDING_CHANNELS
) -> dict[Channel, NotificationChannel]:
    """One channel per wanted kind; a ConfigError names the first missing or malformed variable."""
    built: dict[Channel, NotificationChannel] = {}
    for channel in wanted:
        if channel is Channel.EMAIL:
            built[channel] = SmtpEmailChannel(config.smtp(environ))
        elif channel is Channel.SMS:
            built[channel] = GatewaySmsChannel(config.sms(environ))
        else:
            raise config.ConfigError(f"channel {channel.value!r} is not sent through a server")
    return built
