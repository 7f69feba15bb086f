"""grants.tier: the campaign tier a grant's purchase fell in (ADR 34)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    # Nullable, no default: adding it rewrites no row on either database, however many grants exist.
    op.add_column("grants", sa.Column("tier", _text(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("tier")
