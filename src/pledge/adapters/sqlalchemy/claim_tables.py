"""Tables of the serial register, of claims and of accounts' region changes (ADR 28), in the one
metadata."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from pledge.adapters.sqlalchemy.tables import Str, metadata

# The maker's record of each device sold (``import serials``).
serials = Table(
    "serials",
    metadata,
    Column("serial", Str(128), primary_key=True),
    Column("sku", Str(128), nullable=False),
    Column("sold_at_us", BigInteger, nullable=False),
    Column("channel", Str(128), nullable=False, server_default=""),
    Column("region", Str(2), nullable=False),
    Column("activated_at_us", BigInteger, nullable=True),
)

# One row per claim. ``paid_serial`` is the serial while the claim is approved and NULL otherwise;
# its unique key is "one serial, one approved claim", whoever approves concurrently.
claims = Table(
    "claims",
    metadata,
    Column("claim_id", Str(32), primary_key=True),
    Column("campaign_id", Str(64), ForeignKey("campaigns.campaign_id"), nullable=False),
    Column("account_id", Str(128), ForeignKey("accounts.account_id"), nullable=False),
    Column("serial", Str(128), nullable=False),
    Column("sku", Str(128), nullable=False, server_default=""),
    Column("purchased_at_us", BigInteger, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("state", Str(16), nullable=False),
    Column("checks", Text, nullable=False),  # JSON: [{"name", "passed", "detail"}]
    Column("flags", Text, nullable=False),  # JSON: [{"name", "detail"}]
    Column("submitted_by", Str(128), nullable=False),
    Column("submitted_at_us", BigInteger, nullable=False),
    Column("approvals", Text, nullable=False, server_default="[]"),  # JSON: names, in order
    Column("decided_by", Str(128), nullable=False, server_default=""),
    Column("decided_at_us", BigInteger, nullable=True),
    Column("reason", Str(200), nullable=False, server_default=""),
    Column("grant_id", Str(40), nullable=False, server_default=""),
    Column("paid_serial", Str(128), nullable=True, unique=True),
    CheckConstraint("state IN ('pending', 'approved', 'rejected')", name="state_known"),
    CheckConstraint(
        "(state = 'approved' AND paid_serial IS NOT NULL AND paid_serial = serial) "
        "OR (state <> 'approved' AND paid_serial IS NULL)",
        name="paid_serial_when_approved",
    ),
    CheckConstraint("price_minor >= 0 AND amount_minor >= 0", name="money_not_negative"),
    Index("ix_claims_campaign_id_state_submitted_at_us", "campaign_id", "state", "submitted_at_us"),
    Index("ix_claims_account_id_submitted_at_us", "account_id", "submitted_at_us"),
    Index("ix_claims_serial", "serial"),
)

# Each evidence file of a claim: the stored file's SHA-256 and, for an image, its difference hash.
claim_evidence = Table(
    "claim_evidence",
    metadata,
    Column("claim_id", Str(32), ForeignKey("claims.claim_id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("sha256", Str(64), nullable=False),
    Column("kind", Str(8), nullable=False),
    Column("size", Integer, nullable=False),
    Column("phash", Str(16), nullable=False, server_default=""),
    Column("account_id", Str(128), nullable=False),
    PrimaryKeyConstraint("claim_id", "position"),
    Index("ix_claim_evidence_sha256", "sha256"),
    Index("ix_claim_evidence_phash", "phash"),
)

# Each change of an account's region by an import (``--update``), with the region it replaced and the
# import's instant: a claim by an account that moved after its campaign was launched is flagged.
# Written only for accounts whose region changed, so an import that moves nobody writes nothing here.
account_region_changes = Table(
    "account_region_changes",
    metadata,
    Column("change_id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Str(128), ForeignKey("accounts.account_id"), nullable=False),
    Column("old_region", Str(2), nullable=False),
    Column("new_region", Str(2), nullable=False),
    Column("changed_at_us", BigInteger, nullable=False),
    Index("ix_account_region_changes_account_id_changed_at_us", "account_id", "changed_at_us"),
)
