"""campaigns.expired_through_us: how far expiry has run for a campaign (ADR 36)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: neither database rewrites a row to add it. Grants expired before this
    # revision keep their stored state; marks start at 0 (nothing is expired by a mark yet).
    op.add_column(
        "campaigns", sa.Column("expired_through_us", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    # Grants expired by a mark would read as issued again: write their state first.
    op.execute(
        "UPDATE grants SET state = 'expired', closed_at_us = expires_at_us WHERE state = 'issued' "
        "AND expires_at_us <= (SELECT c.expired_through_us FROM campaigns c "
        "WHERE c.campaign_id = grants.campaign_id)"
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("expired_through_us")
