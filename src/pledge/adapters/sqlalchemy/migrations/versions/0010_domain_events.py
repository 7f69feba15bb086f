"""domain_events: one log of what the use cases recorded (ADR 20)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "type",
            sa.String(length=48).with_variant(sa.String(length=48, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_domain_events")),
    )


def downgrade() -> None:
    op.drop_table("domain_events")
