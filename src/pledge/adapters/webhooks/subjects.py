"""How audited subjects look, scenario B included: the state written as an audit entry's before/after.

``api_store.snapshot`` knows campaigns, grants and webhook endpoints; this adds
subscription terms (``subscription:<id>``, with their consent history) and the
catalog (``catalog:plans``). The same representation answers
``GET /v1/subscriptions/{id}``, so what the audit log shows is what a client reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from pledge.adapters.sqlalchemy import api_store
from pledge.adapters.sqlalchemy.billing import SqlCatalogs, SqlSubscriptions
from pledge.domain.timeutil import format_instant
from pledge.usecases.catalog import plans_json
from pledge.usecases.subscriptions import ConsentedTerm, consented_term_json, consents_of

CATALOG_SUBJECT = "catalog:plans"


def term_snapshot(conn: Connection, term_id: str) -> dict[str, Any] | None:
    """One subscription term and who turned its auto-renew on or off, when, seeing which words."""
    subscriptions = SqlSubscriptions(conn)
    term = subscriptions.get(term_id)
    if term is None:
        return None
    return consented_term_json(ConsentedTerm(term, consents_of(subscriptions.consent_history(term_id))))


def catalog_snapshot(conn: Connection) -> dict[str, Any] | None:
    latest = SqlCatalogs(conn).latest()
    if latest is None:
        return None
    return {
        "object": "catalog",
        "version": latest.version,
        "content_hash": latest.content_hash,
        "currency": latest.catalog.currency,
        "author": latest.author,
        "created_at": format_instant(latest.created_at_us),
        "plans": plans_json(latest.catalog),
    }


def snapshot(conn: Connection, subject: str) -> dict[str, Any]:
    """State of an audited subject (``kind:id``); {} for subjects without one (bulk operations)."""
    kind, _, ident = subject.partition(":")
    if kind == "subscription":
        return term_snapshot(conn, ident) or {}
    if subject == CATALOG_SUBJECT:
        return catalog_snapshot(conn) or {}
    return api_store.snapshot(conn, subject)


class Subjects:
    """The same reads outside a transaction, on a reader engine (they never wait for a long write)."""

    def __init__(self, reader: Engine) -> None:
        self.reader = reader

    def snapshot(self, subject: str) -> dict[str, Any]:
        with self.reader.connect() as conn:
            return snapshot(conn, subject)

    def term(self, term_id: str) -> dict[str, Any] | None:
        with self.reader.connect() as conn:
            return term_snapshot(conn, term_id)

    def catalog(self) -> dict[str, Any] | None:
        with self.reader.connect() as conn:
            return catalog_snapshot(conn)
