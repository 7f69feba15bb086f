"""rate_limits: token buckets shared by every server process (ADR 30)

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("name", _text(24), nullable=False),
        sa.Column("bucket", _text(200), nullable=False),
        sa.Column("tat_us", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "bucket", name=op.f("pk_rate_limits")),
    )
    op.create_index(op.f("ix_rate_limits_tat_us"), "rate_limits", ["tat_us"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limits_tat_us"), table_name="rate_limits")
    op.drop_table("rate_limits")
