"""The fields a qualification rule may read, their types, and where they are stored.

Rules name fields by qualified name (``purchase.sku``). The same names key the
flat value mappings the evaluators take, so one row is one ``dict`` and no
nested objects are built per purchase. Timestamps are integer epoch
microseconds UTC everywhere (the storage form), money is integer minor units.
No field is ever null: absent text is ``""`` (see :mod:`pledge.domain.records`),
which is why rules may not mention ``null`` and why CEL ``==`` and SQL ``=``
mean the same thing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from pledge.domain.records import AccountRecord, PurchaseRecord

FieldType = Literal["string", "int", "timestamp"]
Value = str | int

FIELDS: Final[Mapping[str, FieldType]] = MappingProxyType(
    {
        "purchase.purchase_id": "string",
        "purchase.account_id": "string",
        "purchase.sku": "string",
        "purchase.serial": "string",
        "purchase.purchased_at": "timestamp",
        "purchase.price": "int",  # integer minor units: 1999.00 CNY is 199900
        "purchase.currency": "string",
        "purchase.status": "string",
        "purchase.channel": "string",
        "account.account_id": "string",
        "account.region": "string",
        "account.registered_at": "timestamp",
    }
)

# (table, column) holding each field; renamed columns carry their unit in the name.
STORAGE: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "purchase.purchase_id": ("purchases", "purchase_id"),
        "purchase.account_id": ("purchases", "account_id"),
        "purchase.sku": ("purchases", "sku"),
        "purchase.serial": ("purchases", "serial"),
        "purchase.purchased_at": ("purchases", "purchased_at_us"),
        "purchase.price": ("purchases", "price_minor"),
        "purchase.currency": ("purchases", "currency"),
        "purchase.status": ("purchases", "status"),
        "purchase.channel": ("purchases", "channel"),
        "account.account_id": ("accounts", "account_id"),
        "account.region": ("accounts", "region"),
        "account.registered_at": ("accounts", "registered_at_us"),
    }
)

ROOTS: Final = ("purchase", "account")


def field_type(name: str) -> FieldType | None:
    return FIELDS.get(name)


def values_of(purchase: PurchaseRecord, account: AccountRecord) -> dict[str, Value]:
    """The value mapping the rule evaluators take, from one purchase and its account."""
    return {
        "purchase.purchase_id": purchase.purchase_id,
        "purchase.account_id": purchase.account_id,
        "purchase.sku": purchase.sku,
        "purchase.serial": purchase.serial,
        "purchase.purchased_at": purchase.purchased_at_us,
        "purchase.price": purchase.price_minor,
        "purchase.currency": purchase.currency,
        "purchase.status": purchase.status,
        "purchase.channel": purchase.channel,
        "account.account_id": account.account_id,
        "account.region": account.region,
        "account.registered_at": account.registered_at_us,
    }
