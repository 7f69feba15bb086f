"""What the memory store and its repositories share: the error a constraint raises, the billing tables.

``store.py`` builds the units of work from the repositories in ``billing.py`` and
``corrections.py``; those repositories need the error and the tables but never the store
itself (they read it through the small protocols below), so no module here imports the
one that imports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from pledge.domain.corrections import ClawbackCase
from pledge.domain.grant import Grant
from pledge.domain.notifications import Channel, Purpose
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.notification_ports import DistributionRecord, MessageRecord


class IntegrityError(Exception):
    """What the database raises when a key, foreign key or CHECK constraint refuses a write."""


@dataclass(frozen=True, slots=True)
class CatalogRow:
    version: int
    content_hash: str
    document: str  # canonical JSON, as the database keeps it
    currency: str
    author: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class TermRow:
    """One ``subscription_terms`` row: a term without its consent (that lives in ``consents``)."""

    term_id: str
    account_id: str
    plan_id: str
    price_paid_minor: int
    list_price_minor: int
    currency: str
    timezone: str
    starts_at_us: int
    ends_at_us: int
    anchor_us: int
    purchased_at_us: int
    kind: str
    state: str
    terms_version: int | None
    campaign_id: str | None
    auto_renew: bool
    previous_term_id: str | None
    compensated_days: int
    reconciled_to_version: int | None
    refunded_minor: int
    closed_at_us: int | None
    catalog_version: int


@dataclass(frozen=True, slots=True)
class ConsentRow:
    consent_id: int
    term_id: str
    auto_renew: bool
    actor: str
    at_us: int
    wording_version: str
    wording: str


@dataclass(frozen=True, slots=True)
class CompensationRow:
    term_id: str
    campaign_id: str
    from_version: int
    to_version: int
    policy: str
    extra_days: int
    p_old_minor: int
    p_new_minor: int
    t_old_days: int
    t_new_days: int
    currency: str
    old_ends_at_us: int
    new_ends_at_us: int
    approved_by: str
    applied_by: str
    applied_at_us: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    message_id: str
    kind: str
    account_id: str
    term_id: str | None
    due_at_us: int
    payload: str  # JSON, as the database keeps it
    created_at_us: int
    delivered_at_us: int | None = None


@dataclass
class BillingState:
    """The committed billing tables. Tests may read them, and edit them to simulate tampering."""

    catalog_versions: dict[int, CatalogRow] = field(default_factory=dict)
    terms: dict[str, TermRow] = field(default_factory=dict)
    consents: list[ConsentRow] = field(default_factory=list)  # in consent_id order
    consent_seq: int = 0  # like an autoincrement: ids only grow
    compensations: dict[str, CompensationRow] = field(default_factory=dict)
    outbox: dict[str, OutboxRow] = field(default_factory=dict)

    def __copy__(self) -> BillingState:
        """A unit of work's copy: every container copied, the immutable rows shared."""
        return BillingState(
            dict(self.catalog_versions),
            dict(self.terms),
            list(self.consents),
            self.consent_seq,
            dict(self.compensations),
            dict(self.outbox),
        )


class BillingTables(Protocol):
    """What the billing repositories read of a :class:`~pledge.adapters.memory.store.MemoryStore`."""

    accounts: dict[str, AccountRecord]
    billing: BillingState


class CorrectionTables(Protocol):
    """What the corrections repository reads of a :class:`~pledge.adapters.memory.store.MemoryStore`."""

    accounts: dict[str, AccountRecord]
    purchases: dict[str, PurchaseRecord]
    grants: dict[str, Grant]
    clawbacks: dict[str, ClawbackCase]


@dataclass
class NotificationState:
    distributions: dict[str, DistributionRecord] = field(default_factory=dict)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    keys: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (dist, account, channel) -> id
    claimed_at: dict[str, int] = field(default_factory=dict)  # message id -> wall clock of its claim
    content: dict[str, tuple[str, str]] = field(default_factory=dict)  # in-app title and body
    optouts: dict[str, frozenset[tuple[Channel, Purpose]]] = field(default_factory=dict)

    def __copy__(self) -> NotificationState:
        return NotificationState(**{f.name: dict(getattr(self, f.name)) for f in dataclasses.fields(self)})
