"""account_region_changes: when an import gave an account another region (ADR 28)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    # Changes made before this revision were never recorded: the table starts empty.
    op.create_table(
        "account_region_changes",
        sa.Column("change_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", _text(128), nullable=False),
        sa.Column("old_region", _text(2), nullable=False),
        sa.Column("new_region", _text(2), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_region_changes_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_account_region_changes")),
    )
    op.create_index(
        "ix_account_region_changes_account_id_changed_at_us",
        "account_region_changes",
        ["account_id", "changed_at_us"],
    )


def downgrade() -> None:
    op.drop_table("account_region_changes")
