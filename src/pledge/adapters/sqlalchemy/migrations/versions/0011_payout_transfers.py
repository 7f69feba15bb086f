"""payout_transfers: the planned transfers of claimed grants and their states (ADR 24)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "payout_transfers",
        sa.Column("transfer_id", _text(48), nullable=False),
        sa.Column("grant_id", _text(40), nullable=False),
        sa.Column("account_id", _text(128), nullable=False),
        sa.Column("campaign_id", _text(64), nullable=False),
        sa.Column("rail", _text(24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("request_id", _text(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("due_on", _text(10), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("provider_ref", _text(64), server_default="", nullable=False),
        sa.Column("reason", _text(200), server_default="", nullable=False),
        sa.Column("package_info", sa.Text(), server_default="", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_on", _text(10), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payout_transfers_amount_positive")),
        sa.CheckConstraint(
            "state IN ('pending', 'submitted', 'unknown', 'waiting_user', 'succeeded', 'failed', "
            "'cancelled')",
            name=op.f("ck_payout_transfers_state_known"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_payout_transfers")),
        sa.UniqueConstraint("request_id", name=op.f("uq_payout_transfers_request_id")),
    )
    op.create_index("ix_payout_transfers_grant_id", "payout_transfers", ["grant_id"])
    op.create_index(
        "ix_payout_transfers_campaign_id_state_due_on", "payout_transfers", ["campaign_id", "state", "due_on"]
    )
    op.create_index("ix_payout_transfers_state_transfer_id", "payout_transfers", ["state", "transfer_id"])
    op.create_index("ix_payout_transfers_account_id_sent_on", "payout_transfers", ["account_id", "sent_on"])


def downgrade() -> None:
    op.drop_table("payout_transfers")
