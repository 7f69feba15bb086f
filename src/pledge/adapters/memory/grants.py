"""Grants and the ledger in memory."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from pledge.adapters.memory.candidates import MemoryCandidates
from pledge.adapters.memory.state import _Repository
from pledge.adapters.memory.tables import IntegrityError
from pledge.domain.grant import Grant, GrantState, check_after_mark, lapsed
from pledge.domain.ledger import ChainedTransfer, Transfer, chain
from pledge.usecases.ports import (
    CampaignExpiry,
    FreeGrants,
)
from pledge.usecases.scan_ports import (
    CandidateTotals,
    PreparedCandidates,
)


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
