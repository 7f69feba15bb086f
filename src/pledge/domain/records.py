"""Accounts and purchases as the engine sees them: validated, typed, flat.

They are NamedTuples on purpose: millions of them stream through imports and
batch work, and a tuple is the cheapest typed record Python has. Every field a
rule can read is always present (absent text is ``""``, never None), so CEL and
SQL never disagree about missing values.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from pledge.domain.contacts import DEFAULT_ACCOUNT_LOCALE

PURCHASE_STATUSES: Final = ("completed", "returned", "refunded", "cancelled")

ACCOUNT_COLUMNS: Final = ("account_id", "region", "registered_at")
PURCHASE_COLUMNS: Final = (
    "purchase_id",
    "account_id",
    "sku",
    "serial",
    "purchased_at",
    "price",
    "currency",
    "status",
    "channel",
)


class AccountRecord(NamedTuple):
    account_id: str
    region: str  # ISO 3166-1 alpha-2, upper case; CN is mainland China, HK/MO/TW are not
    registered_at_us: int
    # How to reach the person (optional columns; see domain/contacts.py): "" when unknown.
    email: str = ""  # lower case
    phone: str = ""  # E.164
    locale: str = DEFAULT_ACCOUNT_LOCALE  # "zh-CN" or "en"
    wechat_openid: str = ""


class RegionChange(NamedTuple):
    """An account's region replaced by an import (``--update``), and when: a claim by an account
    that moved after its campaign was launched is flagged (``region_changed``, ADR 28)."""

    account_id: str
    old_region: str
    new_region: str
    changed_at_us: int


class PurchaseRecord(NamedTuple):
    purchase_id: str
    account_id: str
    sku: str
    serial: str  # "" when the item has none
    purchased_at_us: int
    price_minor: int
    currency: str
    status: str
    channel: str  # "" when unknown
