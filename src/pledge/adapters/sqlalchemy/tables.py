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
)

purchases = Table(
    "purchases",
    metadata,
    Column("purchase_id", Str(128), primary_key=True),
    Column("account_id", Str(128), ForeignKey("accounts.account_id"), nullable=False),
    Column("sku", Str(128), nullable=False),
    Column("serial", Str(128), nullable=False, server_default=""),
    Column("purchased_at_us", BigInteger, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", Str(3), nullable=False),
    Column("status", Str(16), nullable=False),
    Column("channel", Str(64), nullable=False, server_default=""),
    CheckConstraint("status IN ('completed', 'returned', 'refunded', 'cancelled')", name="status_known"),
    CheckConstraint("price_minor >= 0", name="price_not_negative"),
    # The batch rule scans by time; sku/status lead most rules' selectivity.
    Index("ix_purchases_purchased_at_us", "purchased_at_us", "purchase_id"),
    Index("ix_purchases_account_id", "account_id"),
    Index("ix_purchases_serial", "serial"),
)
