"""notification distributions, their messages (one per distribution, account, channel) and opt-outs (ADR 26)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notification_distributions",
        sa.Column("distribution_id", _text(40), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("campaign_id", _text(64), nullable=False),
        sa.Column("template", _text(32), nullable=False),
        sa.Column("channels", _text(64), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("hold_until_us", sa.BigInteger(), nullable=False),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", _text(128), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('held', 'released', 'cancelled')",
            name=op.f("ck_notification_distributions_state_known"),
        ),
        sa.PrimaryKeyConstraint("distribution_id", name=op.f("pk_notification_distributions")),
    )
    op.create_index(
        "ix_notification_distributions_state_hold_until_us",
        "notification_distributions",
        ["state", "hold_until_us"],
    )
    op.create_table(
        "notification_messages",
        sa.Column("message_id", _text(40), nullable=False),
        sa.Column("distribution_id", _text(40), nullable=False),
        sa.Column("account_id", _text(128), nullable=False),
        sa.Column("channel", _text(16), nullable=False),
        sa.Column("template", _text(32), nullable=False),
        sa.Column("purpose", _text(16), nullable=False),
        sa.Column("topic", _text(200), nullable=False),
        sa.Column("locale", _text(5), nullable=False),
        sa.Column("address", _text(254), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("reason", _text(200), server_default="", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=False),
        sa.Column("claim_token", _text(40), server_default="", nullable=False),
        sa.Column("claimed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("sent_at_us", sa.BigInteger(), nullable=True),
        sa.Column("provider_ref", _text(128), server_default="", nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'failed', 'unknown', 'suppressed', 'cancelled')",
            name=op.f("ck_notification_messages_state_known"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_notification_messages")),
        sa.UniqueConstraint(
            "distribution_id",
            "account_id",
            "channel",
            name=op.f("uq_notification_messages_distribution_id_account_id_channel"),
        ),
    )
    op.create_index(
        "ix_notification_messages_state_next_attempt_us",
        "notification_messages",
        ["state", "next_attempt_us"],
    )
    op.create_index(
        "ix_notification_messages_account_id_channel", "notification_messages", ["account_id", "channel"]
    )
    op.create_table(
        "notification_optouts",
        sa.Column("account_id", _text(128), nullable=False),
        sa.Column("channel", _text(16), nullable=False),
        sa.Column("purpose", _text(16), nullable=False),
        sa.Column("source", _text(40), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "channel", "purpose", name=op.f("pk_notification_optouts")),
    )


def downgrade() -> None:
    op.drop_table("notification_optouts")
    op.drop_table("notification_messages")
    op.drop_table("notification_distributions")
