"""Distributions and their messages (migration 0012, ADR 26), on the shared metadata.

One row per message, keyed by an unguessable ``message_id`` (the unsubscribe token, the SMTP
Message-ID, the SMS gateway's idempotency key) and unique per (distribution, account, channel):
the database, not the code, refuses a second message to the same person on the same channel.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, Table, Text, UniqueConstraint

from pledge.adapters.sqlalchemy.tables import Str, metadata

DISTRIBUTION_STATES = ("held", "released", "cancelled")
MESSAGE_STATES = ("queued", "sending", "sent", "failed", "unknown", "suppressed", "cancelled")

notification_distributions = Table(
    "notification_distributions",
    metadata,
    Column("distribution_id", Str(40), primary_key=True),
    Column("kind", Str(16), nullable=False),  # manual | reminder | transactional
    Column("campaign_id", Str(64), nullable=False),
    Column("template", Str(32), nullable=False),
    Column("channels", Str(64), nullable=False),  # comma-separated, as asked
    Column("state", Str(16), nullable=False),
    Column("hold_until_us", BigInteger, nullable=False),
    Column("recipients", Integer, nullable=False, server_default="0"),
    Column("created_by", Str(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint(
        "state IN ('" + "', '".join(DISTRIBUTION_STATES) + "')",
        name="state_known",
    ),
    Index("ix_notification_distributions_state_hold_until_us", "state", "hold_until_us"),
)

notification_messages = Table(
    "notification_messages",
    metadata,
    Column("message_id", Str(40), primary_key=True),
    Column("distribution_id", Str(40), nullable=False),
    Column("account_id", Str(128), nullable=False),
    Column("channel", Str(16), nullable=False),
    Column("template", Str(32), nullable=False),
    Column("purpose", Str(16), nullable=False),
    Column("topic", Str(200), nullable=False),
    Column("locale", Str(5), nullable=False),
    Column("address", Str(254), nullable=False),
    Column("params", Text, nullable=False),  # canonical JSON: what the template is rendered from
    Column("state", Str(16), nullable=False),
    Column("reason", Str(200), nullable=False, server_default=""),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("claim_token", Str(40), nullable=False, server_default=""),
    Column("claimed_at_us", BigInteger),  # wall clock of the claim: a lease, for ``unknown``
    Column("sent_at_us", BigInteger),
    Column("provider_ref", Str(128), nullable=False, server_default=""),
    Column("title", Text, nullable=False, server_default=""),  # in-app: what /me shows
    Column("body", Text, nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("state IN ('" + "', '".join(MESSAGE_STATES) + "')", name="state_known"),
    UniqueConstraint("distribution_id", "account_id", "channel"),
    Index("ix_notification_messages_state_next_attempt_us", "state", "next_attempt_us"),
    Index("ix_notification_messages_account_id_channel", "account_id", "channel"),
)

# Per account, channel and purpose: who asked not to be written to (one-click unsubscribe, T/STOP).
notification_optouts = Table(
    "notification_optouts",
    metadata,
    Column("account_id", Str(128), primary_key=True),
    Column("channel", Str(16), primary_key=True),
    Column("purpose", Str(16), primary_key=True),
    Column("source", Str(40), nullable=False),  # the message id unsubscribed from, or "support"
    Column("at_us", BigInteger, nullable=False),
)
