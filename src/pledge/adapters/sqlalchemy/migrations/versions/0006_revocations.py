"""grants record why they were revoked; claw-back cases (ADR 14)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("grants", sa.Column("revoked_reason", _text(200), nullable=True))
    op.create_table(
        "clawbacks",
        sa.Column("clawback_id", _text(40), nullable=False),
        sa.Column("grant_id", _text(40), nullable=False),
        sa.Column("campaign_id", _text(64), nullable=False),
        sa.Column("account_id", _text(128), nullable=False),
        sa.Column("purchase_id", _text(128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("reason", _text(200), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_clawbacks_amount_positive")),
        sa.CheckConstraint("state IN ('open')", name=op.f("ck_clawbacks_state_known")),
        sa.PrimaryKeyConstraint("clawback_id", name=op.f("pk_clawbacks")),
    )
    op.create_index("ix_clawbacks_campaign_id_state", "clawbacks", ["campaign_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_clawbacks_campaign_id_state", table_name="clawbacks")
    op.drop_table("clawbacks")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("revoked_reason")
