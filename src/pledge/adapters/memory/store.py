"""Every port in memory, for fast unit tests of the use cases.

They mirror the SQLAlchemy adapters: same orderings, same refusals (``adjust``
False, ``approve`` ConflictError, import InputErrors), and the database's keys,
foreign keys and CHECKs raised as :class:`IntegrityError`. Rules are evaluated
with the domain's reference evaluator. A unit of work works on a copy of the
:class:`MemoryStore` and publishes it on ``commit()``; anything uncommitted is
discarded. Committing after another unit of work committed meanwhile raises
ConflictError (like a serialization failure): no update is silently lost.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from pledge.adapters.memory.billing import MemoryCatalogs, MemoryOutbox, MemorySubscriptions
from pledge.adapters.memory.claims import MemoryClaims, MemorySerials
from pledge.adapters.memory.corrections import MemoryCorrections
from pledge.adapters.memory.grants import MemoryGrants, MemoryLedger
from pledge.adapters.memory.notifications import MemoryNotifications
from pledge.adapters.memory.payouts import MemoryPayouts
from pledge.adapters.memory.purchases import MemoryPurchases
from pledge.adapters.memory.state import MemoryStore, _json, _Repository
from pledge.adapters.memory.tables import IntegrityError
from pledge.domain.campaign import CampaignState, TermsVersion
from pledge.domain.errors import ConflictError
from pledge.domain.events import DomainEvent
from pledge.usecases.claim_ports import Claims, SerialRegister
from pledge.usecases.notification_ports import NotificationStore
from pledge.usecases.payout_ports import PayoutTransfers
from pledge.usecases.ports import (
    Budget,
    Budgets,
    CampaignRecord,
    Campaigns,
    Catalogs,
    Corrections,
    Grants,
    Ledger,
    Outbox,
    Subscriptions,
    UnitOfWork,
    UnitOfWorkFactory,
)
from pledge.usecases.scan_ports import (
    Purchases,
)


class MemoryCampaigns(_Repository):
    def get(self, campaign_id: str, *, for_update: bool = False) -> CampaignRecord | None:
        return self._s.campaigns.get(campaign_id)

    def add(self, record: CampaignRecord) -> None:
        if record.campaign_id in self._s.campaigns:
            raise IntegrityError(f"primary key: campaign {record.campaign_id} exists")
        self._s.campaigns[record.campaign_id] = record

    def set_state(self, campaign_id: str, state: CampaignState) -> None:
        if (record := self._s.campaigns.get(campaign_id)) is not None:
            self._s.campaigns[campaign_id] = dataclasses.replace(record, state=CampaignState(state))

    def set_group(self, campaign_id: str, group: str) -> None:
        if (record := self._s.campaigns.get(campaign_id)) is not None:
            self._s.campaigns[campaign_id] = dataclasses.replace(record, promise_group=group)

    def lock_group(self, group: str) -> None:
        """Units of work here commit one at a time (``publish``): nothing to hold."""

    def bump_issue_seq(self, campaign_id: str, expected: int) -> bool:
        record = self._s.campaigns.get(campaign_id)
        if record is None or record.issue_seq != expected:
            return False
        self._s.campaigns[campaign_id] = dataclasses.replace(record, issue_seq=expected + 1)
        return True

    def versions(self, campaign_id: str) -> list[TermsVersion]:
        # Like the database, hand out fresh documents: callers cannot edit the stored ones.
        found = sorted(
            (v for (c, _), v in self._s.versions.items() if c == campaign_id), key=lambda v: v.version
        )
        return [dataclasses.replace(v, document=json.loads(_json(v.document))) for v in found]

    def with_versions(self, campaign_id: str) -> tuple[CampaignRecord | None, list[TermsVersion]]:
        return self.get(campaign_id), self.versions(campaign_id)

    def add_version(self, v: TermsVersion) -> None:
        self._campaign_exists(v.campaign_id)
        if v.version < 1:
            raise IntegrityError("check version_positive")
        mine = [o for o in self._s.versions.values() if o.campaign_id == v.campaign_id]
        if any(o.version == v.version or o.content_hash == v.content_hash for o in mine):
            raise IntegrityError(f"unique: campaign {v.campaign_id} version or content_hash exists")
        # Only these columns are inserted: an approval is never added with the version.
        document = json.loads(_json(v.document))
        self._s.versions[(v.campaign_id, v.version)] = TermsVersion(
            v.campaign_id, v.version, v.content_hash, document, v.author, v.created_at_us
        )

    def approve(self, campaign_id: str, version: int, approver: str, at_us: int, content_hash: str) -> None:
        v = self._s.versions.get((campaign_id, version))
        if v is None or v.content_hash != content_hash or v.approved_by is not None:
            raise ConflictError(f"campaign {campaign_id} version {version} changed or was approved meanwhile")
        if approver == v.author:
            raise IntegrityError("check four_eyes: approved_by <> author")
        self._s.versions[(campaign_id, version)] = dataclasses.replace(
            v, approved_by=approver, approved_at_us=at_us, approved_hash=content_hash
        )

    def record_event(
        self, campaign_id: str, kind: str, actor: str, at_us: int, detail: Mapping[str, Any]
    ) -> None:
        self._campaign_exists(campaign_id)
        self._s.events.append((campaign_id, kind, actor, at_us, _json(detail)))

    def events(self, campaign_id: str) -> list[dict[str, Any]]:
        return [
            {"kind": kind, "actor": actor, "at_us": at_us, "detail": json.loads(detail)}
            for c, kind, actor, at_us, detail in self._s.events
            if c == campaign_id
        ]

    def all(self) -> list[CampaignRecord]:
        return [self._s.campaigns[k] for k in sorted(self._s.campaigns)]


class MemoryBudgets(_Repository):
    def get(self, campaign_id: str) -> Budget | None:
        return self._s.budgets.get(campaign_id)

    def create(self, budget: Budget) -> None:
        self._campaign_exists(budget.campaign_id)
        if budget.campaign_id in self._s.budgets:
            raise IntegrityError(f"primary key: budget {budget.campaign_id} exists")
        if not 0 <= budget.remaining_minor <= budget.funded_minor:
            raise IntegrityError("check never_negative / not_above_funded")
        self._s.budgets[budget.campaign_id] = budget

    def adjust(self, campaign_id: str, delta_remaining_minor: int, delta_funded_minor: int = 0) -> bool:
        budget = self._s.budgets.get(campaign_id)
        if budget is None:
            return False
        remaining = budget.remaining_minor + delta_remaining_minor
        funded = budget.funded_minor + delta_funded_minor
        if not 0 <= remaining <= funded:
            return False
        self._s.budgets[campaign_id] = dataclasses.replace(
            budget, remaining_minor=remaining, funded_minor=funded
        )
        return True


class MemoryUnitOfWork:
    """``with uow: ...; uow.commit()`` over a copy of the store; anything not committed is discarded."""

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

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._work: MemoryStore | None = None
        self._base = 0
        self._events: list[DomainEvent] = []

    def _begin(self) -> None:
        with self._store.lock:
            self._base = self._store.generation
            work = self._work = self._store.snapshot()
        self._events = []
        self.campaigns = MemoryCampaigns(work)
        self.budgets = MemoryBudgets(work)
        self.purchases = MemoryPurchases(work)
        self.grants = MemoryGrants(work)
        self.ledger = MemoryLedger(work)
        self.catalogs = MemoryCatalogs(work)
        self.subscriptions = MemorySubscriptions(work)
        self.outbox = MemoryOutbox(work)
        self.corrections = MemoryCorrections(work)
        self.payouts = MemoryPayouts(work)
        self.notifications = MemoryNotifications(work)
        self.claims = MemoryClaims(work)
        self.serials = MemorySerials(work)

    def __enter__(self) -> MemoryUnitOfWork:
        self._begin()
        return self

    def __exit__(self, *exc: object) -> None:
        self._work = None

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def commit(self) -> None:
        assert self._work is not None, "commit() outside the with block"
        self._work.event_log.append(self._events)
        self._store.publish(self._work, self._base)
        self._begin()  # like the database: what follows is a new transaction


def memory_uow_factory(store: MemoryStore) -> UnitOfWorkFactory:
    def make(*, read_only: bool = False) -> UnitOfWork:
        return MemoryUnitOfWork(store)  # one process, one lock: reading and writing alike

    return make
