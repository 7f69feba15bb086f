"""Customer service's search: the accounts whose id, contact, purchase or device is exactly a value."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from pledge.adapters.sqlalchemy.tables import accounts, purchases

# Searchable field → (table, column). Contacts use partial indexes, purchase ids the primary key.
SEARCHABLE = {
    "account_id": (accounts, "account_id"),
    "email": (accounts, "email"),
    "phone": (accounts, "phone"),
    "wechat_openid": (accounts, "wechat_openid"),
    "purchase_id": (purchases, "purchase_id"),
    "serial": (purchases, "serial"),
}


def find_accounts(conn: Connection, field: str, values: Sequence[str], limit: int) -> list[str]:
    """Ids (sorted, at most ``limit``) of accounts whose ``field`` equals one of ``values``."""
    table, column = SEARCHABLE[field]
    wanted = [value for value in values if value]  # "" is "unknown", never a match
    if not wanted:
        return []
    found = conn.scalars(
        select(table.c.account_id)
        .where(table.c[column].in_(wanted))
        .distinct()
        .order_by(table.c.account_id)
        .limit(limit)
    )
    return list(found)
