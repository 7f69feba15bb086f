"""purchases carry the account fields rules read (ADR 12)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    region = sa.String(length=2).with_variant(sa.String(length=2, collation="C"), "postgresql")
    op.add_column("purchases", sa.Column("account_region", region, server_default="", nullable=False))
    op.add_column(
        "purchases",
        sa.Column("account_registered_at_us", sa.BigInteger(), server_default="0", nullable=False),
    )
    # Every stored purchase names an imported account (the import checks it): copy its fields once.
    op.execute(
        "UPDATE purchases SET "
        "account_region = (SELECT a.region FROM accounts a WHERE a.account_id = purchases.account_id), "
        "account_registered_at_us = "
        "(SELECT a.registered_at_us FROM accounts a WHERE a.account_id = purchases.account_id) "
        "WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = purchases.account_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("account_registered_at_us")
        batch_op.drop_column("account_region")
