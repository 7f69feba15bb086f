"""serials, claims, claim_evidence: the serial register and claims with evidence (ADR 28)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "serials",
        sa.Column("serial", _text(128), nullable=False),
        sa.Column("sku", _text(128), nullable=False),
        sa.Column("sold_at_us", sa.BigInteger(), nullable=False),
        sa.Column("channel", _text(128), server_default="", nullable=False),
        sa.Column("region", _text(2), nullable=False),
        sa.Column("activated_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_serials")),
    )
    op.create_table(
        "claims",
        sa.Column("claim_id", _text(32), nullable=False),
        sa.Column("campaign_id", _text(64), nullable=False),
        sa.Column("account_id", _text(128), nullable=False),
        sa.Column("serial", _text(128), nullable=False),
        sa.Column("sku", _text(128), server_default="", nullable=False),
        sa.Column("purchased_at_us", sa.BigInteger(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _text(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("checks", sa.Text(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("submitted_by", _text(128), nullable=False),
        sa.Column("submitted_at_us", sa.BigInteger(), nullable=False),
        sa.Column("approvals", sa.Text(), server_default="[]", nullable=False),
        sa.Column("decided_by", _text(128), server_default="", nullable=False),
        sa.Column("decided_at_us", sa.BigInteger(), nullable=True),
        sa.Column("reason", _text(200), server_default="", nullable=False),
        sa.Column("grant_id", _text(40), server_default="", nullable=False),
        sa.Column("paid_serial", _text(128), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected')", name=op.f("ck_claims_state_known")
        ),
        sa.CheckConstraint(
            "(state = 'approved' AND paid_serial IS NOT NULL AND paid_serial = serial) "
            "OR (state <> 'approved' AND paid_serial IS NULL)",
            name=op.f("ck_claims_paid_serial_when_approved"),
        ),
        sa.CheckConstraint(
            "price_minor >= 0 AND amount_minor >= 0", name=op.f("ck_claims_money_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_claims_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.campaign_id"], name=op.f("fk_claims_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claims")),
        sa.UniqueConstraint("paid_serial", name=op.f("uq_claims_paid_serial")),
    )
    op.create_index(
        "ix_claims_campaign_id_state_submitted_at_us", "claims", ["campaign_id", "state", "submitted_at_us"]
    )
    op.create_index("ix_claims_account_id_submitted_at_us", "claims", ["account_id", "submitted_at_us"])
    op.create_index("ix_claims_serial", "claims", ["serial"])
    op.create_table(
        "claim_evidence",
        sa.Column("claim_id", _text(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", _text(64), nullable=False),
        sa.Column("kind", _text(8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("phash", _text(16), server_default="", nullable=False),
        sa.Column("account_id", _text(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.claim_id"], name=op.f("fk_claim_evidence_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("claim_id", "position", name=op.f("pk_claim_evidence")),
    )
    op.create_index("ix_claim_evidence_sha256", "claim_evidence", ["sha256"])
    op.create_index("ix_claim_evidence_phash", "claim_evidence", ["phash"])


def downgrade() -> None:
    op.drop_table("claim_evidence")
    op.drop_table("claims")
    op.drop_table("serials")
