"""accounts carry how to reach the person: email, phone, locale, wechat_openid

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-04 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None

SEARCHED = ("email", "phone", "wechat_openid")


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    # Server defaults: existing accounts, and files without these columns, mean "unknown" ("").
    op.add_column("accounts", sa.Column("email", _text(254), server_default="", nullable=False))
    op.add_column("accounts", sa.Column("phone", _text(16), server_default="", nullable=False))
    op.add_column("accounts", sa.Column("locale", _text(5), server_default="zh-CN", nullable=False))
    op.add_column("accounts", sa.Column("wechat_openid", _text(128), server_default="", nullable=False))
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
