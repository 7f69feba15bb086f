"""idempotency keys scoped to the API key that sent them (ADR 16)

The primary key of ``idempotency_keys`` becomes (api_key_id, idem_key): the
same Idempotency-Key string under two API keys names two requests. Stored
rows keep their meaning (each already recorded the API key that sent it), so
they are kept. Four-eyes by person needs no column: a key's person is its
name, and approvals compare persons (pledge.domain.persons).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-04 14:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_constraint("pk_idempotency_keys", type_="primary")
        batch_op.create_primary_key("pk_idempotency_keys", ["api_key_id", "idem_key"])


def downgrade() -> None:
    # Two API keys may now hold the same string: keep the newest row of each before narrowing.
    op.execute(
        "DELETE FROM idempotency_keys WHERE EXISTS (SELECT 1 FROM idempotency_keys AS newer "
        "WHERE newer.idem_key = idempotency_keys.idem_key "
        "AND (newer.created_at_us > idempotency_keys.created_at_us "
        "OR (newer.created_at_us = idempotency_keys.created_at_us "
        "AND newer.api_key_id > idempotency_keys.api_key_id)))"
    )
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_constraint("pk_idempotency_keys", type_="primary")
        batch_op.create_primary_key("pk_idempotency_keys", ["idem_key"])
