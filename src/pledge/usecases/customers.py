"""Find a customer the way they describe themselves: account id, email, phone, order number, device serial."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pledge.domain.contacts import ContactError, email_of, phone_candidates
from pledge.usecases.ports import UnitOfWorkFactory

MAX_MATCHES = 50


@dataclass(frozen=True, slots=True)
class CustomerMatch:
    account_id: str
    fields: tuple[str, ...]  # the fields the query matched, in search order


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    query: str  # as searched: stripped
    matches: tuple[CustomerMatch, ...]  # by account id, at most MAX_MATCHES
    truncated: bool  # more accounts matched than are listed


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


def find_customers(uow_factory: UnitOfWorkFactory, query: str) -> CustomerSearch:
    """Every account ``query`` matches exactly, with the fields it matched (normalised email/phone)."""
    matched: dict[str, list[str]] = {}
    with uow_factory(read_only=True) as uow:
        for field, values in _searches(query):
            for account_id in uow.purchases.find_accounts(field, values, MAX_MATCHES):
                matched.setdefault(account_id, []).append(field)
    ids = sorted(matched)[:MAX_MATCHES]
    return CustomerSearch(
        query.strip(),
        tuple(CustomerMatch(account_id, tuple(matched[account_id])) for account_id in ids),
        len(matched) > MAX_MATCHES,
    )
