"""The narrow interfaces use cases need from the outside world.

Adapters implement them (``adapters/sqlalchemy`` for real databases,
``adapters/memory`` for tests). Heavy scans stay behind these ports so they can
run inside the database; use cases never see SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pledge.domain.campaign import CampaignState, TermsVersion
from pledge.domain.catalog import CatalogVersion
from pledge.domain.compensation import CompensationItem, PlanCompensation
from pledge.domain.corrections import ClawbackCase
from pledge.domain.events import DomainEvent
from pledge.domain.grant import Grant
from pledge.domain.ledger import ChainedTransfer, Transfer
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules.ast import Rule
from pledge.domain.subscriptions import AutoRenewConsent, Term
from pledge.usecases.claim_ports import Claims, SerialRegister
from pledge.usecases.notification_ports import NotificationStore
from pledge.usecases.payout_ports import PayoutTransfers
from pledge.usecases.scan_ports import CandidateTotals, PreparedCandidates, Purchases


class Clock(Protocol):
    def now_us(self) -> int: ...


class CompiledRule(Protocol):
    """A rule checked against the schema, ready to evaluate one purchase in-process."""

    @property
    def rule(self) -> Rule: ...

    def evaluate_conditions(self, values: Mapping[str, str | int]) -> list[bool]: ...


class RuleCompiler(Protocol):
    def __call__(self, text: str) -> CompiledRule: ...


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    campaign_id: str
    kind: str
    state: CampaignState
    currency: str
    created_at_us: int
    issue_seq: int
    # The promise group of the campaign's approved terms (of its first version until one is
    # approved): the group whose other campaigns' grants it excludes and is excluded by (ADR 15).
    promise_group: str = "default"


@dataclass(frozen=True, slots=True)
class Budget:
    campaign_id: str
    currency: str
    funded_minor: int
    remaining_minor: int


class Campaigns(Protocol):
    def get(self, campaign_id: str, *, for_update: bool = False) -> CampaignRecord | None: ...
    def all(self) -> list[CampaignRecord]: ...
    def add(self, record: CampaignRecord) -> None: ...
    def set_state(self, campaign_id: str, state: CampaignState) -> None: ...
    def set_group(self, campaign_id: str, group: str) -> None: ...
    def lock_group(self, group: str) -> None:
        """Hold the promise group until the transaction ends: runs of one group take turns, so two
        campaigns cannot both pay a purchase neither saw paid (a no-op where writers serialize)."""
        ...

    def bump_issue_seq(self, campaign_id: str, expected: int) -> bool: ...
    def versions(self, campaign_id: str) -> list[TermsVersion]: ...
    def with_versions(self, campaign_id: str) -> tuple[CampaignRecord | None, list[TermsVersion]]:
        """``get`` and ``versions`` in one read (an eligibility check's first)."""
        ...

    def add_version(self, version: TermsVersion) -> None: ...
    def approve(
        self, campaign_id: str, version: int, approver: str, at_us: int, content_hash: str
    ) -> None: ...
    def record_event(
        self, campaign_id: str, kind: str, actor: str, at_us: int, detail: Mapping[str, Any]
    ) -> None: ...
    def events(self, campaign_id: str) -> list[dict[str, Any]]: ...


class Budgets(Protocol):
    def get(self, campaign_id: str) -> Budget | None: ...
    def create(self, budget: Budget) -> None: ...
    def adjust(self, campaign_id: str, delta_remaining_minor: int, delta_funded_minor: int = 0) -> bool:
        """Apply a change only if the budget stays within [0, funded]; False if it would not."""
        ...


@dataclass(frozen=True, slots=True)
class FreeGrants:
    """What every grant written for the free candidates of one run shares."""

    campaign_id: str
    terms_version: int
    currency: str
    issued_at_us: int
    expires_at_us: int
    posting_id: str


@dataclass(frozen=True, slots=True)
class CampaignExpiry:
    """What one expiry returned to one campaign's budget, in one currency."""

    campaign_id: str
    currency: str
    count: int
    amount_minor: int
    first_grant_id: str  # the smallest id expired: it names the ledger posting


class Grants(Protocol):
    def issued_counts(self, campaign_id: str) -> tuple[dict[str, int], dict[str, int], set[str]]: ...
    def add_many(self, grants: Sequence[Grant], serials: Sequence[str], *, posting_id: str) -> None:
        """Store new grants, all booked by the one ledger transfer ``posting_id``.

        A large run may be staged: its grants are read back, and their keys checked, only after
        ``flush_added`` (which a unit of work's ``commit`` also calls first).
        """
        ...

    def flush_added(self) -> None:
        """Write every staged grant into place; raises on a duplicate key like ``add_many``."""
        ...

    def begin_write(self, expected_rows: int) -> None:
        """A run is about to write up to ``expected_rows`` grants, before its first one: the store
        may prepare a bulk write (rebuilding indexes once, in ``flush_added``)."""
        ...

    def add_free(self, prepared: PreparedCandidates, grants: FreeGrants) -> CandidateTotals:
        """Grant every free candidate of ``prepared``, and the ranked accounts' candidates it does not
        refuse (``PreparedCandidates.rank_refused``), in one statement; returns what was written."""
        ...

    def posting_totals(self, campaign_id: str) -> dict[str, int]:
        """Amount issued per issue posting (ledger transfer id) of a campaign."""
        ...

    def get(self, grant_id: str, *, for_update: bool = False) -> Grant | None: ...
    def update(self, grant: Grant) -> None: ...
    def expire_due(self, campaign_id: str, now_us: int) -> list[CampaignExpiry]:
        """Expire, as of ``now_us``, the campaign's unopened grants whose window has closed; what
        that expired, per currency (empty: nothing was due). Expiry moves the campaign's mark
        (``domain.grant.lapsed``, ADR 36) and waits for, never overlaps, another expiry of the same
        campaign or an open grant change; grants of an earlier expiry are never expired again.
        """
        ...

    def page(
        self, *, campaign_id: str | None, account_id: str | None, starting_after: str | None, limit: int
    ) -> list[Grant]: ...
    def totals(self, campaign_id: str) -> dict[str, tuple[int, int]]: ...
    def tier_totals(self, campaign_id: str) -> dict[tuple[str, str], tuple[int, int]]:
        """Count and amount per (tier, state) of a tiered campaign's grants (ADR 34)."""
        ...

    def for_purchases(self, campaign_id: str, purchase_ids: Sequence[str]) -> dict[str, Grant]: ...
    def with_serial(self, campaign_id: str, serial: str, limit: int) -> list[Grant]:
        """A campaign's grants to purchases of one device, by purchase id (no index: this
        scans the campaign's grants, so only ``explain`` asks, for a purchase refused by its serial)."""
        ...


class Ledger(Protocol):
    def append(self, transfers: Iterable[Transfer]) -> int: ...
    def entries(self) -> Iterator[ChainedTransfer]: ...
    def head(self) -> tuple[int, str]: ...


class Catalogs(Protocol):
    def latest(self) -> CatalogVersion | None: ...
    def as_of(self, at_us: int) -> CatalogVersion | None:
        """The catalog version in force at ``at_us`` (the newest created at or before it)."""
        ...

    def add(self, version: CatalogVersion) -> None: ...


class Subscriptions(Protocol):
    def add(self, term: Term, catalog_version: int, now_us: int) -> bool: ...
    def get(self, term_id: str, *, for_update: bool = False) -> Term | None: ...
    def update(self, term: Term) -> None: ...
    def page(self, *, account_id: str | None, starting_after: str | None, limit: int) -> list[Term]: ...
    def due(self, now_us: int, limit: int) -> list[Term]: ...
    def active_ending_before(self, before_us: int, after_term_id: str, limit: int) -> list[Term]: ...
    def of_campaign(
        self, campaign_id: str, before_version: int, after_term_id: str, limit: int
    ) -> list[Term]: ...
    def record_consent(self, term_id: str, consent: AutoRenewConsent, wording_version: str) -> None: ...
    def consent_history(self, term_id: str) -> list[dict[str, Any]]: ...
    def record_compensation(
        self, item: CompensationItem, approved_by: str, applied_by: str, at_us: int
    ) -> None: ...
    def compensation_rows(self, campaign_id: str) -> list[PlanCompensation]:
        """One row per compensation of the campaign, ordered by plan (``compensation_totals`` sums)."""
        ...

    def state_counts(self, campaign_id: str | None) -> dict[str, int]: ...


class Outbox(Protocol):
    def enqueue(
        self,
        message_id: str,
        kind: str,
        account_id: str,
        term_id: str | None,
        due_at_us: int,
        payload: Mapping[str, Any],
        now_us: int,
    ) -> bool: ...
    def pending(self, *, account_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered messages (of one account if given), the first ``limit`` in (due time,
        message id) order: a total order, so every store returns the same page."""
        ...

    def cancel(self, message_id: str) -> bool:
        """Withdraw a message not yet delivered (e.g. a reminder for an end date that moved)."""
        ...


class Corrections(Protocol):
    """What corrections read and write (ADR 14): live grants of changed records, claw-back cases."""

    def live_grants_of_accounts(self, account_ids: Sequence[str]) -> list[Grant]:
        """The issued or claimed grants held by these accounts (by the grants' account index)."""
        ...

    def purchases(self, purchase_ids: Sequence[str]) -> dict[str, tuple[PurchaseRecord, AccountRecord]]:
        """Purchases by id, each with its account's fields a rule reads (id, region, registration;
        contacts left empty), as issuance read them; unknown ids are left out."""
        ...

    def open_clawback(self, case: ClawbackCase) -> bool:
        """Record a case; False (and nothing written) if its grant has one already. A case
        that breaks a constraint (an amount not positive) raises the store's integrity error."""
        ...

    def clawbacks_of_grants(self, grant_ids: Sequence[str]) -> dict[str, ClawbackCase]: ...
    def clawbacks(
        self, *, campaign_id: str | None, state: str | None, starting_after: str | None, limit: int
    ) -> list[ClawbackCase]: ...
    def clawback_totals(self, campaign_id: str) -> dict[str, tuple[int, int]]:
        """(count, amount) of a campaign's cases per state."""
        ...


class UnitOfWork(Protocol):
    campaigns: Campaigns
    budgets: Budgets
    purchases: Purchases
    grants: Grants
    ledger: Ledger
    catalogs: Catalogs
    subscriptions: Subscriptions
    outbox: Outbox
    corrections: Corrections
    payouts: PayoutTransfers
    notifications: NotificationStore
    claims: Claims
    serials: SerialRegister

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def record(self, event: DomainEvent) -> None:
        """Note what this unit changed; its events are written to the event log at ``commit``, in
        the same transaction (and forgotten with a rollback). ADR 20."""
        ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Makes units of work. ``read_only=True``: the unit only reads, so it need not wait for a
    writer (on SQLite a deferred transaction reads its WAL snapshot while a long run holds the
    write lock, instead of queueing behind it for the busy timeout). A read-only unit never writes."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


ProgressCallback = Callable[[int], None]
