"""Find a customer the way they describe themselves: account id, email, phone, order number, device serial."""

from __future__ import annotations

import contextlib
from typing import Any

from pledge.domain.contacts import ContactError, email_of, phone_candidates
from pledge.usecases.ports import UnitOfWorkFactory

MAX_MATCHES = 50


def _searches(query: str) -> list[tuple[str, list[str]]]:
    """Each field with the exact values ``query`` may stand for there, in canonical form."""
    text = query.strip()
    searches: list[tuple[str, list[str]]] = [
        ("account_id", [text]),
        ("purchase_id", [text]),
        ("serial", [text]),
        ("wechat_openid", [text]),
    ]
    if "@" in text:
        with contextlib.suppress(ContactError):  # not an address: it can only be another field
            searches.append(("email", [email_of(text)]))
    phones = phone_candidates(text)
    if phones:
        searches.append(("phone", phones))
    return searches


def find_customers(uow_factory: UnitOfWorkFactory, query: str) -> dict[str, Any]:
    """Every account ``query`` matches exactly, with the fields it matched (normalised email/phone)."""
    matched: dict[str, list[str]] = {}
    with uow_factory() as uow:
        for field, values in _searches(query):
            for account_id in uow.purchases.find_accounts(field, values, MAX_MATCHES):
                matched.setdefault(account_id, []).append(field)
    ids = sorted(matched)[:MAX_MATCHES]
    return {
        "query": query.strip(),
        "matches": [{"account_id": account_id, "fields": matched[account_id]} for account_id in ids],
        "truncated": len(matched) > MAX_MATCHES,
    }
