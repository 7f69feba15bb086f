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

import copy
import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pledge.adapters.memory.billing import MemoryCatalogs, MemoryOutbox, MemorySubscriptions
from pledge.adapters.memory.candidates import MemoryCandidates, paid_in_group
from pledge.adapters.memory.claims import MemoryClaims, MemorySerials
from pledge.adapters.memory.corrections import MemoryCorrections
from pledge.adapters.memory.events import MemoryEventLog
from pledge.adapters.memory.notifications import MemoryNotifications, NotificationState
from pledge.adapters.memory.payouts import MemoryPayouts
from pledge.adapters.memory.tables import BillingState, IntegrityError
from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CampaignState, CashbackTerms, TermsVersion
from pledge.domain.claims import Claim
from pledge.domain.corrections import ClawbackCase
from pledge.domain.errors import ConflictError, InputError
from pledge.domain.events import DomainEvent
from pledge.domain.grant import Grant, GrantState, check_after_mark, lapsed
from pledge.domain.issuance import Candidate
from pledge.domain.ledger import GENESIS_HASH, ChainedTransfer, Transfer, chain
from pledge.domain.near_miss import listing_key, only_failure
from pledge.domain.records import PURCHASE_STATUSES, AccountRecord, PurchaseRecord, RegionChange
from pledge.domain.rules.ast import evaluate
from pledge.domain.rules.schema import values_of
from pledge.domain.serials import SerialRecord
from pledge.domain.validation import column_of
from pledge.usecases.claim_ports import Claims, SerialRegister
from pledge.usecases.notification_ports import NotificationStore
from pledge.usecases.payout_ports import PayoutRecord, PayoutTransfers
from pledge.usecases.ports import (
    Budget,
    Budgets,
    CampaignExpiry,
    CampaignRecord,
    Campaigns,
    CandidateTotals,
    Catalogs,
    Corrections,
    FreeGrants,
    Grants,
    Ledger,
    NearMiss,
    Outbox,
    PreparedCandidates,
    Purchases,
    ScanCounts,
    Selection,
    Subscriptions,
    UnitOfWork,
    UnitOfWorkFactory,
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


def _names(selection: Selection) -> list[str]:
    return ["purchased", *(c.name for c in selection.conditions)]


class MemoryPurchases(_Repository):
    def __init__(self, s: MemoryStore) -> None:
        super().__init__(s)
        self._changed: list[str] = []  # ids the last add replaced
        self._moved: list[tuple[str, str, str]] = []  # accounts of those given another region

    # -- import -------------------------------------------------------------
    def changed(self) -> list[str]:
        return self._changed

    def moved(self) -> list[tuple[str, str, str]]:
        return self._moved

    def record_region_changes(self, changes: Sequence[RegionChange]) -> None:
        for change in changes:
            if change.account_id not in self._s.accounts:
                raise IntegrityError(f"foreign key: account {change.account_id} does not exist")
        self._s.region_changes.extend(changes)

    def region_changes(self, account_id: str, since_us: int) -> list[RegionChange]:
        mine = [
            c for c in self._s.region_changes if c.account_id == account_id and c.changed_at_us >= since_us
        ]
        return sorted(mine, key=lambda c: c.changed_at_us)  # stable: recorded order within an instant

    def add_accounts(self, batch: Sequence[AccountRecord], *, update: bool) -> tuple[int, int]:
        return self._add(self._s.accounts, batch, update, "accounts")

    def add_purchases(self, batch: Sequence[PurchaseRecord], *, update: bool) -> tuple[int, int]:
        return self._add(self._s.purchases, batch, update, "purchases")

    def begin_load(self, what: str, expected_rows: int | None) -> None:
        """Nothing to prepare: every row is checked as it is added."""

    def finish_load(self, what: str) -> None:
        """Nothing was deferred."""

    def _check(self, row: AccountRecord | PurchaseRecord) -> None:
        if isinstance(row, PurchaseRecord):
            if row.account_id not in self._s.accounts:
                raise IntegrityError(f"foreign key: account {row.account_id} does not exist")
            if row.status not in PURCHASE_STATUSES or row.price_minor < 0:
                raise IntegrityError(f"check status_known / price_not_negative: {row.purchase_id}")

    def _insert(self, table: dict[str, Row], rows: Sequence[Row]) -> None:
        """One statement: every row goes in, or (on any violated constraint) none."""
        seen: set[str] = set()
        for row in rows:
            if row[0] in table or row[0] in seen:
                raise IntegrityError(f"primary key: {row[0]} exists")
            seen.add(row[0])
            self._check(row)
        table.update((row[0], row) for row in rows)

    def _add(self, table: dict[str, Row], batch: Sequence[Row], update: bool, what: str) -> tuple[int, int]:
        self._changed, self._moved = [], []
        if not batch:
            return 0, 0
        rows = list(batch)
        try:  # the fast path: a fresh batch
            self._insert(table, rows)
            return len(rows), 0
        except IntegrityError:
            pass
        key = rows[0]._fields[0]
        new_rows: list[Row] = []
        changed: list[Row] = []
        unchanged = 0
        for row in rows:
            before = table.get(row[0])
            if before is None:
                new_rows.append(row)
            elif tuple(before) == tuple(row):
                unchanged += 1
            else:
                changed.append(row)
        if changed and not update:
            first = changed[0]
            old = table[first[0]]
            fields = [column_of(k) for k, a, b in zip(first._fields, old, first, strict=True) if a != b]
            raise InputError(
                f"{what}: {key} {first[0]} already exists with a different {', '.join(fields)} "
                f"({len(changed)} such rows in this batch); use --update to replace them",
                code="conflicting_reimport",
                param=f"{key} {first[0]}: {fields[0]}",
            )
        for candidate in (*new_rows, *changed):  # a changed row may name another account
            if isinstance(candidate, PurchaseRecord) and candidate.account_id not in self._s.accounts:
                pid, aid = candidate.purchase_id, candidate.account_id
                raise InputError(
                    f"purchases: purchase_id {pid}, account_id: {aid!r} "
                    "is not an imported account (import accounts first)",
                    code="unknown_account",
                    param=f"purchase_id {pid}: account_id",
                )
        self._insert(table, new_rows)
        for row in changed:
            self._check(row)
            before = table[row[0]]
            if (
                isinstance(row, AccountRecord)
                and isinstance(before, AccountRecord)
                and before.region != row.region
            ):
                self._moved.append((row.account_id, before.region, row.region))
            table[row[0]] = row
        self._changed = [row[0] for row in changed]
        return len(new_rows) + len(changed), unchanged

    # -- scans (the reference evaluator over each purchase joined to its account)
    def _failures(self, selection: Selection) -> Iterator[tuple[PurchaseRecord, list[bool]]]:
        start, end = selection.window.start_us, selection.window.end_us
        nodes = [c.node for c in selection.conditions]
        ordered = sorted(self._s.purchases.values(), key=lambda p: (p.purchased_at_us, p.purchase_id))
        for purchase in ordered:
            account = self._s.accounts.get(purchase.account_id)
            if account is None:  # an inner join drops it
                continue
            values = values_of(purchase, account)
            failed = [not start <= purchase.purchased_at_us < end]
            failed += [not evaluate(node, values) for node in nodes]
            yield purchase, failed

    def scan(self, selection: Selection) -> ScanCounts:
        names = _names(selection)
        n = len(names)
        rejections, near = [0] * n, [0] * n
        counts = ScanCounts()
        for purchase, failed in self._failures(selection):
            counts.evaluated += 1
            failed_tests = [i for i, fails in enumerate(failed) if fails]
            if not failed_tests:
                counts.qualifying += 1
                counts.other_currency += purchase.currency != selection.currency
            for i in failed_tests:
                rejections[i] += 1
            only = only_failure(failed_tests)
            if only is not None:
                near[only] += 1
        counts.rejections = {names[i]: rejections[i] for i in range(n)}
        counts.near_misses_by_condition = {names[i]: near[i] for i in range(n)}
        return counts

    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]:
        names = _names(selection)
        start, end = selection.window.start_us, selection.window.end_us
        misses = []
        for p, failed in self._failures(selection):
            only = only_failure(i for i, fails in enumerate(failed) if fails)
            if only is not None:
                misses.append(NearMiss(p.purchase_id, p.account_id, names[only], p.purchased_at_us))
        misses.sort(key=lambda m: listing_key(start, end, m.purchased_at_us, m.purchase_id))
        return misses[: max(limit, 0)]

    def _qualifying(self, selection: Selection) -> list[PurchaseRecord]:
        return [p for p, failed in self._failures(selection) if not any(failed)]

    def candidates(self, selection: Selection) -> Iterator[Candidate]:
        for p in self._qualifying(selection):
            yield Candidate(
                p.purchase_id, p.account_id, p.serial, p.purchased_at_us, p.price_minor, p.currency
            )

    def prepare(self, selection: Selection, terms: CashbackTerms, *, count_issued: bool) -> MemoryCandidates:
        return self.prepare_rows([list(self.candidates(selection))], terms, count_issued=count_issued)

    def prepare_rows(
        self, batches: Iterable[Sequence[Candidate]], terms: CashbackTerms, *, count_issued: bool
    ) -> MemoryCandidates:
        rows = [Candidate(*c) for batch in batches for c in batch]
        prior = (
            [g for g in self._s.grants.values() if g.campaign_id == terms.campaign_id] if count_issued else []
        )
        return MemoryCandidates(
            iter(rows),
            terms,
            (g.account_id for g in prior),
            (self._s.grant_serials[g.id] for g in prior),
            (g.purchase_id for g in prior),
            paid_in_group(self._s.campaigns.values(), self._s.grants.values(), terms),
        )

    def amount_bound(self, selection: Selection, terms: CashbackTerms) -> int:
        grant_minor = terms.benefit.grant_minor
        return sum(grant_minor(c.price_minor, c.purchased_at_us) or 0 for c in self.candidates(selection))

    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]:
        ids = [
            p.purchase_id
            for p in self._qualifying(selection)
            if not benefit.within_price(p.price_minor, p.purchased_at_us)
        ]
        return len(ids), ids[: max(limit, 0)]

    def find_accounts(self, field: str, values: Sequence[str], limit: int) -> list[str]:
        wanted = {value for value in values if value}
        rows: Iterable[Any] = (
            self._s.accounts.values() if field in AccountRecord._fields else self._s.purchases.values()
        )
        return sorted({row.account_id for row in rows if getattr(row, field) in wanted})[:limit]

    def of_account(self, account_id: str) -> tuple[AccountRecord | None, list[PurchaseRecord]]:
        rows = [p for p in self._s.purchases.values() if p.account_id == account_id]
        rows.sort(key=lambda p: (p.purchased_at_us, p.purchase_id))
        return self._s.accounts.get(account_id), rows


class MemoryGrants(_Repository):
    def issued_counts(self, campaign_id: str) -> tuple[dict[str, int], dict[str, int], set[str]]:
        mine = self._of(campaign_id)  # every state counts: an expired grant still used its purchase
        serials = (self._s.grant_serials[g.id] for g in mine)
        by_serial = dict(Counter(serial for serial in serials if serial))
        return dict(Counter(g.account_id for g in mine)), by_serial, {g.purchase_id for g in mine}

    def _of(self, campaign_id: str) -> list[Grant]:
        return [g for g in self._s.grants.values() if g.campaign_id == campaign_id]

    def flush_added(self) -> None:
        """Nothing is staged here: ``add_many`` writes at once."""

    def add_many(self, grants: Sequence[Grant], serials: Sequence[str], *, posting_id: str) -> None:
        pairs = list(zip(grants, serials, strict=True))
        for g in grants:
            check_after_mark(g.campaign_id, g.expires_at_us, self._s.expiry_marks.get(g.campaign_id, 0))
        ids: set[str] = set()
        keys: set[tuple[str, str]] = set()
        for g, _ in pairs:
            key = (g.campaign_id, g.purchase_id)
            if g.id in self._s.grants or g.id in ids:
                raise IntegrityError(f"primary key: grant {g.id} exists")
            if key in self._s.grant_keys or key in keys:
                raise IntegrityError(f"unique: a grant for {key} exists")
            # No campaign check: the grants table has no foreign key to campaigns (tables.py).
            if g.amount_minor <= 0:
                raise IntegrityError("check amount_positive")
            ids.add(g.id)
            keys.add(key)
        for g, serial in pairs:
            self._s.grants[g.id] = g
            self._s.grant_serials[g.id] = serial
            self._s.grant_keys[(g.campaign_id, g.purchase_id)] = g.id
            self._s.grant_postings[g.id] = posting_id

    def begin_write(self, expected_rows: int) -> None:
        """No index to rebuild here."""

    def add_free(self, prepared: PreparedCandidates, grants: FreeGrants) -> CandidateTotals:
        if not isinstance(prepared, MemoryCandidates):
            raise TypeError("candidates prepared by another store")
        check_after_mark(
            grants.campaign_id, grants.expires_at_us, self._s.expiry_marks.get(grants.campaign_id, 0)
        )
        new, serials = prepared.free_grants(grants)
        self.add_many(new, serials, posting_id=grants.posting_id)
        return CandidateTotals(len(new), sum(g.amount_minor for g in new))

    def posting_totals(self, campaign_id: str) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for g in self._of(campaign_id):
            totals[self._s.grant_postings[g.id]] += g.amount_minor
        return dict(totals)

    def get(self, grant_id: str, *, for_update: bool = False) -> Grant | None:
        return self._s.grants.get(grant_id)

    def update(self, grant: Grant) -> None:
        if grant.state is GrantState.ISSUED:  # re-opened (reinstated): as the database checks
            check_after_mark(
                grant.campaign_id, grant.expires_at_us, self._s.expiry_marks.get(grant.campaign_id, 0)
            )
        stored = self._s.grants.get(grant.id)
        if stored is not None:  # only these columns change, as in the database
            self._s.grants[grant.id] = dataclasses.replace(
                stored,
                state=GrantState(grant.state),
                expires_at_us=grant.expires_at_us,
                claimed_at_us=grant.claimed_at_us,
                closed_at_us=grant.closed_at_us,
                revoked_reason=grant.revoked_reason,
            )

    def expire_due(self, campaign_id: str, now_us: int) -> list[CampaignExpiry]:
        """Like the database's: the campaign's mark moves forward (ADR 36); here the grants it
        expires are rewritten as they would read (``lapsed``), which no reader can tell apart."""
        mark = self._s.expiry_marks.get(campaign_id, 0)
        if now_us <= mark or campaign_id not in self._s.campaigns:
            return []
        self._s.expiry_marks[campaign_id] = now_us
        per: dict[str, CampaignExpiry] = {}
        for g in sorted(self._of(campaign_id), key=lambda g: g.id):
            if g.state is GrantState.ISSUED and mark < g.expires_at_us <= now_us:
                self.update(lapsed(g, now_us))
                seen = per.get(g.currency, CampaignExpiry(campaign_id, g.currency, 0, 0, g.id))
                per[g.currency] = dataclasses.replace(
                    seen, count=seen.count + 1, amount_minor=seen.amount_minor + g.amount_minor
                )
        return [per[c] for c in sorted(per)]

    def page(
        self, *, campaign_id: str | None, account_id: str | None, starting_after: str | None, limit: int
    ) -> list[Grant]:
        found = [
            g
            for g in self._s.grants.values()
            if (not campaign_id or g.campaign_id == campaign_id)
            and (not account_id or g.account_id == account_id)
            and (not starting_after or g.id > starting_after)
        ]
        found.sort(key=lambda g: g.id)
        return found[: max(limit, 0)]

    def totals(self, campaign_id: str) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for g in self._of(campaign_id):
            n, total = out.get(g.state.value, (0, 0))
            out[g.state.value] = (n + 1, total + g.amount_minor)
        return out

    def tier_totals(self, campaign_id: str) -> dict[tuple[str, str], tuple[int, int]]:
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for g in self._of(campaign_id):
            if g.tier is not None:
                n, total = out.get((g.tier, g.state.value), (0, 0))
                out[(g.tier, g.state.value)] = (n + 1, total + g.amount_minor)
        return out

    def with_serial(self, campaign_id: str, serial: str, limit: int) -> list[Grant]:
        found = [g for g in self._of(campaign_id) if self._s.grant_serials[g.id] == serial]
        return sorted(found, key=lambda g: g.purchase_id)[: max(limit, 0)]

    def for_purchases(self, campaign_id: str, purchase_ids: Sequence[str]) -> dict[str, Grant]:
        keys = self._s.grant_keys
        found = ((p, keys.get((campaign_id, p))) for p in purchase_ids)
        return {p: self._s.grants[gid] for p, gid in found if gid is not None}


class MemoryLedger(_Repository):
    def head(self) -> tuple[int, str]:
        return self._s.head

    def append(self, transfers: Iterable[Transfer]) -> int:
        chained = chain(transfers, *self._s.head)
        if not chained:
            return 0
        ids: set[str] = set()
        for c in chained:
            if c.transfer.id in self._s.transfer_ids or c.transfer.id in ids:
                raise IntegrityError(f"unique: transfer {c.transfer.id} exists")
            ids.add(c.transfer.id)
        self._s.ledger.extend(chained)
        self._s.transfer_ids.update(ids)
        self._s.head = (chained[-1].seq, chained[-1].hash)
        return len(chained)

    def entries(self) -> Iterator[ChainedTransfer]:
        yield from sorted(self._s.ledger, key=lambda c: c.seq)


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
