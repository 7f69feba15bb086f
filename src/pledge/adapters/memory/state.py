"""The memory store's committed state, and the base of its repositories (``store.py`` wires them)."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pledge.adapters.memory.events import MemoryEventLog
from pledge.adapters.memory.tables import BillingState, IntegrityError, NotificationState
from pledge.domain.campaign import TermsVersion
from pledge.domain.claims import Claim
from pledge.domain.corrections import ClawbackCase
from pledge.domain.errors import ConflictError
from pledge.domain.grant import Grant
from pledge.domain.ledger import GENESIS_HASH, ChainedTransfer
from pledge.domain.records import AccountRecord, PurchaseRecord, RegionChange
from pledge.domain.serials import SerialRecord
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import (
    Budget,
    CampaignRecord,
)

Row = TypeVar("Row", AccountRecord, PurchaseRecord)


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass
class MemoryStore:
    """The committed state. Tests may read it, and edit it to simulate tampering."""

    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    purchases: dict[str, PurchaseRecord] = field(default_factory=dict)
    campaigns: dict[str, CampaignRecord] = field(default_factory=dict)
    versions: dict[tuple[str, int], TermsVersion] = field(default_factory=dict)
    events: list[tuple[str, str, str, int, str]] = field(default_factory=list)  # campaign, kind, ...
    budgets: dict[str, Budget] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    grant_serials: dict[str, str] = field(default_factory=dict)
    grant_keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (campaign, purchase) -> id
    grant_postings: dict[str, str] = field(default_factory=dict)  # grant id -> issue posting id
    expiry_marks: dict[str, int] = field(default_factory=dict)  # campaign -> expired through (ADR 36)
    ledger: list[ChainedTransfer] = field(default_factory=list)
    transfer_ids: set[str] = field(default_factory=set)
    head: tuple[int, str] = (0, GENESIS_HASH)
    billing: BillingState = field(default_factory=BillingState)  # scenario B (adapters/memory/billing.py)
    clawbacks: dict[str, ClawbackCase] = field(default_factory=dict)  # adapters/memory/corrections.py
    event_log: MemoryEventLog = field(default_factory=MemoryEventLog)  # adapters/memory/events.py
    payouts: dict[str, PayoutRecord] = field(default_factory=dict)  # adapters/memory/payouts.py
    notifications: NotificationState = field(default_factory=NotificationState)  # ADR 26
    serials: dict[str, SerialRecord] = field(default_factory=dict)  # adapters/memory/claims.py
    claims: dict[str, Claim] = field(default_factory=dict)
    region_changes: list[RegionChange] = field(default_factory=list)  # in the order recorded
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> MemoryStore:
        """A copy to work on: containers are copied, the immutable values in them are shared."""
        names = [f.name for f in dataclasses.fields(self) if f.name != "lock"]
        return MemoryStore(**{name: copy.copy(getattr(self, name)) for name in names})

    def publish(self, work: MemoryStore, base_generation: int) -> None:
        """Make a unit of work's copy the committed state, unless someone committed meanwhile."""
        with self.lock:
            if self.generation != base_generation:
                raise ConflictError("another unit of work committed meanwhile; retry")
            for f in dataclasses.fields(self):
                if f.name not in ("generation", "lock"):
                    setattr(self, f.name, getattr(work, f.name))
            self.generation += 1


class _Repository:
    def __init__(self, s: MemoryStore) -> None:
        self._s = s

    def _campaign_exists(self, campaign_id: str) -> None:
        if campaign_id not in self._s.campaigns:
            raise IntegrityError(f"foreign key: campaign {campaign_id} does not exist")
