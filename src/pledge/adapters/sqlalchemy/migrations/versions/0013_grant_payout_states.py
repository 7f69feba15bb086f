"""grant states paying, paid, payout_failed; transfer state returned (ADR 27)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_GRANTS_OLD = "state IN ('issued', 'claimed', 'paid', 'expired', 'revoked')"
_GRANTS_NEW = "state IN ('issued', 'claimed', 'paying', 'paid', 'payout_failed', 'expired', 'revoked')"
_TRANSFERS_OLD = (
    "state IN ('pending', 'submitted', 'unknown', 'waiting_user', 'succeeded', 'failed', 'cancelled')"
)
_TRANSFERS_NEW = (
    "state IN ('pending', 'submitted', 'unknown', 'waiting_user', 'succeeded', 'failed', 'cancelled', "
    "'returned')"
)


def _swap(table: str, condition: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{table}_state_known"), type_="check")
        batch_op.create_check_constraint(op.f(f"ck_{table}_state_known"), condition)


def upgrade() -> None:
    _swap("grants", _GRANTS_NEW)
    _swap("payout_transfers", _TRANSFERS_NEW)


def downgrade() -> None:
    _swap("payout_transfers", _TRANSFERS_OLD)
    _swap("grants", _GRANTS_OLD)
