"""The relational schema, one metadata for SQLite and PostgreSQL.

Instants are BIGINT epoch microseconds UTC (``*_us``) and money BIGINT minor
units (``*_minor``): both compare identically in every engine, unlike
TIMESTAMP casts that drop offsets or DECIMALs that turn into REAL. Text that
rules compare uses byte order everywhere (``COLLATE "C"`` on PostgreSQL,
SQLite's default BINARY), the order CEL uses.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def Str(length: int | None = None) -> String:  # noqa: N802 - reads like a type in table definitions
    """Text compared in byte order on every engine (CEL's order)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


accounts = Table(
    "accounts",
    metadata,
    Column("account_id", Str(128), primary_key=True),
    Column("region", Str(2), nullable=False),
    Column("registered_at_us", BigInteger, nullable=False),
    # How to reach the person (optional import columns, domain/contacts.py). NULL or "" is unknown
    # (for locale: zh-CN). NULL, not a default: an account imported without them is stored exactly
    # as before they existed (a default is written into every row, a third more insert time).
    Column("email", Str(254)),
    Column("phone", Str(16)),
    Column("locale", Str(5)),
    Column("wechat_openid", Str(128)),
    # Customer service finds a person by each; partial, so accounts without them cost no index work.
    *(
        Index(
            f"ix_accounts_{name}",
            name,
            sqlite_where=text(f"{name} <> ''"),
            postgresql_where=text(f"{name} <> ''"),
        )
        for name in ("email", "phone", "wechat_openid")
    ),
)

purchases = Table(
    "purchases",
    metadata,
    Column("purchase_id", Str(128), primary_key=True),
    # No foreign key: a per-row check costs more than the insert itself at millions of rows; the
    # import's join to ``accounts`` writes no purchase without one (purchase_load.py).
    Column("account_id", Str(128), nullable=False),
    Column("sku", Str(128), nullable=False),
    Column("serial", Str(128), nullable=False, server_default=""),
    Column("purchased_at_us", BigInteger, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("status", Str(16), nullable=False),
    Column("channel", Str(64), nullable=False, server_default=""),
    # The account fields a rule may read, copied from ``accounts`` at import and kept in step by an
    # account update (ADR 12): a scan then reads one table instead of joining once per purchase.
    Column("account_region", Str(2), nullable=False, server_default=""),
    Column("account_registered_at_us", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("status IN ('completed', 'returned', 'refunded', 'cancelled')", name="status_known"),
    CheckConstraint("price_minor >= 0", name="price_not_negative"),
    # Narrow windows scan by time; explain and customer service look up one account. Every
    # secondary index is rebuilt after a large import rather than maintained row by row.
    Index("ix_purchases_purchased_at_us", "purchased_at_us", "purchase_id"),
    Index("ix_purchases_account_id", "account_id"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", Str(64), primary_key=True),
    Column("kind", Str(16), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    # Optimistic concurrency for issuance: every committed issuance chunk bumps it.
    Column("issue_seq", BigInteger, nullable=False, server_default="0"),
    # The promise group of its approved terms (ADR 15): a run excludes purchases the group's other
    # campaigns paid. A handful of rows per group: no index.
    Column("promise_group", Str(64), nullable=False, server_default="default"),
    # How far expiry has run (ADR 36): an issued grant of the campaign whose window closed by then
    # reads as expired (``expiry.py``). Only ``grants expire`` moves it, and only forward.
    Column("expired_through_us", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(
        "state IN ('draft', 'approved', 'active', 'paused', 'closed', 'settled')", name="state_known"
    ),
)

terms_versions = Table(
    "terms_versions",
    metadata,
    Column("campaign_id", Str(64), ForeignKey("campaigns.campaign_id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_hash", Str(80), nullable=False),
    Column("document", Text, nullable=False),  # canonical JSON; never updated
    Column("author", Str(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("approved_by", Str(128)),
    Column("approved_at_us", BigInteger),
    Column("approved_hash", Str(80)),
    CheckConstraint("version >= 1", name="version_positive"),
    # Four-eyes, enforced by the database too.
    CheckConstraint("approved_by IS NULL OR approved_by <> author", name="four_eyes"),
    UniqueConstraint("campaign_id", "content_hash"),
)

budgets = Table(
    "budgets",
    metadata,
    Column("campaign_id", Str(64), ForeignKey("campaigns.campaign_id"), primary_key=True),
    Column("currency", Str(3), nullable=False),
    Column("funded_minor", BigInteger, nullable=False),
    Column("remaining_minor", BigInteger, nullable=False),
    # The last line of defence: no bug and no race can take a budget below zero.
    CheckConstraint("remaining_minor >= 0", name="never_negative"),
    CheckConstraint("remaining_minor <= funded_minor", name="not_above_funded"),
)

grants = Table(
    "grants",
    metadata,
    # grant_id = sha256(campaign, purchase): the primary key is also the one-grant-per-(campaign,
    # purchase) guard, so no second unique index is paid on every issued grant.
    Column("grant_id", Str(40), primary_key=True),
    # No foreign key to campaigns: issuance holds the campaign's row lock, and PostgreSQL would run
    # one referential-integrity trigger per grant.
    Column("campaign_id", Str(64), nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("account_id", Str(128), nullable=False),
    Column("purchase_id", Str(128), nullable=False),
    Column("serial", Str(128), nullable=False, server_default=""),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("claimed_at_us", BigInteger),
    Column("closed_at_us", BigInteger),
    # The ledger transfer that booked this grant's issue: one posting per issuance chunk, whose
    # amount is the sum of its grants (``ledger verify`` checks it).
    Column("posting_id", Str(80), nullable=False),
    Column("revoked_reason", Str(200)),  # set when the grant becomes revoked (ADR 14)
    Column("tier", Str(64)),  # the campaign's tier the purchase fell in (ADR 34); NULL: untiered
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "state IN ('issued', 'claimed', 'paying', 'paid', 'payout_failed', 'expired', 'revoked')",
        name="state_known",
    ),
    Index("ix_grants_account_id_campaign_id", "account_id", "campaign_id"),
    Index("ix_grants_state_expires_at_us", "state", "expires_at_us"),
    # A campaign's grants (reports, verify, re-runs): appended in key order by a run, so nearly free.
    Index("ix_grants_campaign_id_posting_id", "campaign_id", "posting_id"),
)

# An opened grant whose purchase stopped qualifying: what the customer owes back (ADR 14). The id
# derives from the grant's, so a grant has at most one case.
clawbacks = Table(
    "clawbacks",
    metadata,
    Column("clawback_id", Str(40), primary_key=True),
    Column("grant_id", Str(40), nullable=False),
    Column("campaign_id", Str(64), nullable=False),
    Column("account_id", Str(128), nullable=False),
    Column("purchase_id", Str(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("reason", Str(200), nullable=False),
    Column("state", Str(16), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("state IN ('open')", name="state_known"),
    Index("ix_clawbacks_campaign_id_state", "campaign_id", "state"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("transfer_id", Str(80), nullable=False, unique=True),
    Column("debit_account", Str(200), nullable=False),
    Column("credit_account", Str(200), nullable=False),
    Column("asset", Str(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("kind", Str(32), nullable=False),
    Column("ref", Str(200), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("prev_hash", Str(64), nullable=False),
    Column("hash", Str(64), nullable=False),
    # A transfer moves a positive amount between two different accounts:
    # balanced by construction, so the sum of balances per asset is always 0.
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account <> credit_account", name="two_sides"),
    # No index on ref: a grant's issue posting is found by its transfer id (grants.posting_id),
    # and every extra index on random keys is paid on each of millions of issuance inserts.
)

# One row: the chain's head. Writers lock it, which serializes ledger appends.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Str(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

campaign_events = Table(
    "campaign_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Str(64), ForeignKey("campaigns.campaign_id"), nullable=False),
    Column("kind", Str(32), nullable=False),
    Column("actor", Str(128), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
)


# -- Scenario B: catalog, subscriptions, consents, compensation, outbox --------

catalog_versions = Table(
    "catalog_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("content_hash", Str(80), nullable=False, unique=True),
    Column("document", Text, nullable=False),  # canonical JSON; never updated
    Column("currency", Str(3), nullable=False),
    Column("author", Str(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

subscription_terms = Table(
    "subscription_terms",
    metadata,
    Column("term_id", Str(40), primary_key=True),
    Column("account_id", Str(128), ForeignKey("accounts.account_id"), nullable=False),
    Column("plan_id", Str(64), nullable=False),
    Column("kind", Str(16), nullable=False),  # first | renewal | repurchase
    Column("previous_term_id", Str(40)),
    Column("catalog_version", Integer, nullable=False),
    Column("campaign_id", Str(64)),
    Column("terms_version", Integer),
    Column("price_paid_minor", BigInteger, nullable=False),
    Column("list_price_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("timezone", Str(64), nullable=False),  # calendar months are counted here
    Column("purchased_at_us", BigInteger, nullable=False),
    Column("starts_at_us", BigInteger, nullable=False),
    Column("ends_at_us", BigInteger, nullable=False),
    Column("anchor_us", BigInteger, nullable=False),  # renewals keep the original day of month
    Column("compensated_days", Integer, nullable=False, server_default="0"),
    Column("reconciled_to_version", Integer),
    Column("auto_renew", Boolean, nullable=False),
    Column("state", Str(16), nullable=False),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("closed_at_us", BigInteger),
    CheckConstraint("state IN ('active', 'renewed', 'lapsed', 'refunded')", name="state_known"),
    CheckConstraint("kind IN ('first', 'renewal', 'repurchase')", name="kind_known"),
    CheckConstraint("price_paid_minor >= 0", name="price_not_negative"),
    CheckConstraint("ends_at_us > starts_at_us", name="ends_after_start"),
    CheckConstraint("refunded_minor >= 0 AND refunded_minor <= price_paid_minor", name="refund_within_price"),
    CheckConstraint("compensated_days >= 0", name="compensation_never_shortens"),
    # A term is renewed at most once: the renewal chain cannot fork.
    UniqueConstraint("previous_term_id"),
    Index("ix_subscription_terms_account_id", "account_id"),
    Index("ix_subscription_terms_campaign_id_terms_version", "campaign_id", "terms_version"),
    Index("ix_subscription_terms_state_ends_at_us", "state", "ends_at_us"),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", Integer, primary_key=True, autoincrement=True),
    Column("term_id", Str(40), ForeignKey("subscription_terms.term_id"), nullable=False),
    Column("auto_renew", Boolean, nullable=False),
    Column("actor", Str(128), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("wording_version", Str(32), nullable=False),
    Column("wording", Text, nullable=False),  # the exact text the customer saw
    Index("ix_consents_term_id", "term_id"),
)

compensations = Table(
    "compensations",
    metadata,
    # One compensation per term, ever: the primary key is the idempotency guard.
    Column("term_id", Str(40), ForeignKey("subscription_terms.term_id"), primary_key=True),
    Column("campaign_id", Str(64), nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("policy", Str(32), nullable=False),
    Column("extra_days", Integer, nullable=False),
    # The numbers that decided it, kept for audit and for money-equivalent reports.
    Column("p_old_minor", BigInteger, nullable=False),
    Column("p_new_minor", BigInteger, nullable=False),
    Column("t_old_days", Integer, nullable=False),
    Column("t_new_days", Integer, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("old_ends_at_us", BigInteger, nullable=False),
    Column("new_ends_at_us", BigInteger, nullable=False),
    Column("approved_by", Str(128), nullable=False),
    Column("applied_by", Str(128), nullable=False),
    Column("applied_at_us", BigInteger, nullable=False),
    CheckConstraint("extra_days >= 0", name="extra_days_not_negative"),
    CheckConstraint("new_ends_at_us >= old_ends_at_us", name="never_shortens"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("message_id", Str(80), primary_key=True),  # kind:term_id — queued once
    Column("kind", Str(48), nullable=False),
    Column("account_id", Str(128), nullable=False),
    Column("term_id", Str(40)),
    Column("due_at_us", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("delivered_at_us", BigInteger),
    Index("ix_outbox_delivered_at_us_due_at_us", "delivered_at_us", "due_at_us"),
)

# -- The domain event log (migration 0010, ADR 20) -------------------------------

# What the use cases recorded, written by the unit of work at commit in the change's own
# transaction; ``seq`` orders them as committed within one writer. A bulk change is one event that
# names its batch (an issue posting, an expiry batch), never one row per grant.
domain_events = Table(
    "domain_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("type", Str(48), nullable=False),  # the event's class name: GrantClaimed, GrantsIssued, …
    Column("recorded_at_us", BigInteger, nullable=False),  # wall-clock time of the commit
    Column("data", Text, nullable=False),  # the event's fields as canonical JSON
)


# One row per planned transfer of a claimed grant (ADR 24): its current attempt's request id is the
# provider's idempotency key, so it is unique; a new attempt replaces it only after a final failure.
payout_transfers = Table(
    "payout_transfers",
    metadata,
    Column("transfer_id", Str(48), primary_key=True),  # {grant_id}/{seq}
    Column("grant_id", Str(40), nullable=False),
    Column("account_id", Str(128), nullable=False),
    Column("campaign_id", Str(64), nullable=False),
    Column("rail", Str(24), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("request_id", Str(32), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("due_on", Str(10), nullable=False),  # local date (campaign zone), ISO: sorts as it reads
    Column("state", Str(16), nullable=False),
    Column("provider_ref", Str(64), nullable=False, server_default=""),
    Column("reason", Str(200), nullable=False, server_default=""),
    Column("package_info", Text, nullable=False, server_default=""),
    Column("attempts", Integer, nullable=False, server_default="0"),  # requests sent, all attempts
    Column("sent_on", Str(10)),  # local date the current attempt was first sent: the day's limits
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "state IN ('pending', 'submitted', 'unknown', 'waiting_user', 'succeeded', 'failed', 'cancelled', "
        "'returned')",
        name="state_known",
    ),
    Index("ix_payout_transfers_grant_id", "grant_id"),
    Index("ix_payout_transfers_campaign_id_state_due_on", "campaign_id", "state", "due_on"),
    Index("ix_payout_transfers_state_transfer_id", "state", "transfer_id"),
    Index("ix_payout_transfers_account_id_sent_on", "account_id", "sent_on"),
)
