"""accounts carry how to reach the person: email, phone, locale, wechat_openid

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-04 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SEARCHED = ("email", "phone", "wechat_openid")


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    # NULL (unknown) for existing accounts and for files without these columns: no default is
    # written into each row, so such an import costs what it did before.
    for name, length in (("email", 254), ("phone", 16), ("locale", 5), ("wechat_openid", 128)):
        op.add_column("accounts", sa.Column(name, _text(length), nullable=True))
    for name in SEARCHED:
        op.create_index(
            f"ix_accounts_{name}",
            "accounts",
            [name],
            sqlite_where=sa.text(f"{name} <> ''"),
            postgresql_where=sa.text(f"{name} <> ''"),
        )


def downgrade() -> None:
    for name in SEARCHED:
        op.drop_index(f"ix_accounts_{name}", table_name="accounts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for name in ("wechat_openid", "locale", "phone", "email"):
            batch_op.drop_column(name)
