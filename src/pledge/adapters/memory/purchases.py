"""Purchases and accounts in memory: imports, scans and selections evaluated in-process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pledge.adapters.memory.candidates import MemoryCandidates, paid_in_group
from pledge.adapters.memory.state import MemoryStore, Row, _Repository
from pledge.adapters.memory.tables import IntegrityError
from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InputError
from pledge.domain.issuance import Candidate
from pledge.domain.near_miss import listing_key, only_failure
from pledge.domain.records import PURCHASE_STATUSES, AccountRecord, PurchaseRecord, RegionChange
from pledge.domain.rules.ast import evaluate
from pledge.domain.rules.schema import values_of
from pledge.domain.validation import column_of
from pledge.usecases.scan_ports import (
    NearMiss,
    ScanCounts,
    Selection,
)


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
