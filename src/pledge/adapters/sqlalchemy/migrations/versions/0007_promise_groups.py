"""campaigns belong to a promise group (ADR 15)

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every campaign written before groups existed is in the one default group of its company:
    # from now on, two of them never pay the same purchase unless a new version allows stacking.
    group = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")
    op.add_column("campaigns", sa.Column("promise_group", group, server_default="default", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("promise_group")
