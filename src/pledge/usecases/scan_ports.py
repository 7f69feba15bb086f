"""What use cases need to scan purchases where the data lives: the selection, its counts and
candidates, and the purchases store (ADR 11). The rest of the ports are in ``ports.py``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CashbackTerms
from pledge.domain.issuance import Candidate
from pledge.domain.records import AccountRecord, PurchaseRecord, RegionChange
from pledge.domain.rules.ast import Condition
from pledge.domain.timeutil import LocalDateWindow


@dataclass(frozen=True, slots=True)
class Selection:
    """What a campaign selects: its window and its rule's conditions (evaluated where the data lives)."""

    window: LocalDateWindow
    conditions: Sequence[Condition]
    currency: str


@dataclass(slots=True)
class ScanCounts:
    """One pass over all purchases, per condition."""

    evaluated: int = 0
    qualifying: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    near_misses_by_condition: dict[str, int] = field(default_factory=dict)
    other_currency: int = 0


@dataclass(frozen=True, slots=True)
class NearMiss:
    purchase_id: str
    account_id: str
    condition: str
    purchased_at_us: int


@dataclass(frozen=True, slots=True)
class CandidateTotals:
    """Totals over some candidates: ``count``/``amount_minor`` of those whose grant would not exceed
    the price paid and earns something (what they would be granted, limits and budget aside);
    ``other_currency`` and ``overpaid`` count those that block a run (another currency, a fixed
    amount above the price); ``earns_nothing`` those left out because their amount is zero.
    ``by_tier``: of ``count``/``amount_minor``, each tier's share (tiered terms only, ADR 34)."""

    count: int = 0
    amount_minor: int = 0
    other_currency: int = 0
    overpaid: int = 0
    earns_nothing: int = 0
    by_tier: Mapping[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class RankRefused:
    """The candidates a store decided by their rank in their account (``ranked_accounts`` in
    ``pledge.domain.issuance``, ADR 39) and refused as over the account's limit: how many
    (``per_account``), and the part of ``PreparedCandidates.totals`` they make up (``totals``)."""

    per_account: int = 0
    totals: CandidateTotals = field(default_factory=CandidateTotals)


class PreparedCandidates(Protocol):
    """A selection's candidates, split once into free and conflicting ones (ADR 11).

    Prepared where the data lives; valid inside the unit of work that prepared it. ``close``
    releases what the store holds for it.
    """

    def totals(self) -> CandidateTotals:
        """Over every candidate, free or conflicting."""
        ...

    def conflicting(self) -> Iterator[Candidate]:
        """The candidates that carry a key in conflict, in (purchase time, purchase id) order, but
        for those of the ranked accounts (``rank_refused``)."""
        ...

    def rank_refused(self) -> RankRefused:
        """The ranked accounts' candidates refused as over their limit, the budget aside. The others
        of those accounts are granted with the free candidates (``Grants.add_free``)."""
        ...

    def everything(self) -> Iterator[Candidate]:
        """Every candidate, in (purchase time, purchase id) order."""
        ...

    def tracked_accounts(self, *, ranked: bool = True) -> Iterator[str]:
        """The accounts in conflict; without the ranked ones unless ``ranked`` (the split's planner
        never sees their candidates)."""
        ...

    def tracked_serials(self) -> Iterator[str]: ...
    def paid_elsewhere(self) -> dict[str, int]:
        """Qualifying purchases another campaign of the promise group already paid (a grant in any
        state but revoked), counted under that campaign (the first by id if several did). Unless
        the terms allow stacking, they are not candidates: ``totals``, ``conflicting`` and
        ``everything`` leave them out (ADR 15)."""
        ...

    def excluded_keys(self) -> Iterator[tuple[str, str]]:
        """(account, serial) of each purchase left out as paid elsewhere: they count against this
        campaign's limits as its own grants do (the customer and the device were paid). Their keys
        are in conflict, so the planner decides every candidate that carries them."""
        ...

    def close(self) -> None: ...


class Purchases(Protocol):
    def add_accounts(self, batch: Sequence[AccountRecord], *, update: bool) -> tuple[int, int]: ...
    def add_purchases(self, batch: Sequence[PurchaseRecord], *, update: bool) -> tuple[int, int]: ...
    def changed(self) -> Sequence[str]:
        """The ids (purchase or account) the last ``add_*`` call replaced with different content."""
        ...

    def moved(self) -> Sequence[tuple[str, str, str]]:
        """(account id, old region, new region) of each account the last ``add_accounts`` call
        gave another region (a subset of ``changed``)."""
        ...

    def record_region_changes(self, changes: Sequence[RegionChange]) -> None:
        """Keep an import's region changes (in its transaction; one statement for them all)."""
        ...

    def region_changes(self, account_id: str, since_us: int) -> list[RegionChange]:
        """The account's region changes at or after ``since_us``, oldest first."""
        ...

    def begin_load(self, what: str, expected_rows: int | None) -> None:
        """An import of about ``expected_rows`` rows of ``what`` starts (the store may bulk-load)."""
        ...

    def finish_load(self, what: str) -> None:
        """The import's rows are all added: finish and check what was deferred (raises InputError)."""
        ...

    def scan(self, selection: Selection) -> ScanCounts: ...
    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]: ...
    def candidates(self, selection: Selection) -> Iterator[Candidate]: ...
    def prepare(
        self, selection: Selection, terms: CashbackTerms, *, count_issued: bool
    ) -> PreparedCandidates:
        """Split the candidates by ``conflict_keys`` for ``terms``' limits and amount.

        ``count_issued`` counts the campaign's grants so far against the limits (a real run, or the
        dry run of a launched campaign).
        """
        ...

    def prepare_rows(
        self, batches: Iterable[Sequence[Candidate]], terms: CashbackTerms, *, count_issued: bool
    ) -> PreparedCandidates:
        """As ``prepare``, for candidates selected elsewhere (a candidate set, ADR 29): every batch is
        consumed before this returns, so an error raised by the batches leaves nothing decided."""
        ...

    def amount_bound(self, selection: Selection, terms: CashbackTerms) -> int:
        """What every candidate would be granted, limits, budget and promise group aside: no run can
        cost more (one scan, no temporary table)."""
        ...

    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]:
        """How many qualifying purchases (any currency) ``benefit`` would pay more than their price,
        and the first ``limit`` of their ids in purchase order."""
        ...

    def of_account(self, account_id: str) -> tuple[AccountRecord | None, list[PurchaseRecord]]: ...
    def find_accounts(self, field: str, values: Sequence[str], limit: int) -> list[str]:
        """Ids (sorted, at most ``limit``) of accounts whose ``field`` equals one of ``values``:
        ``account_id``, ``email``, ``phone``, ``wechat_openid``, ``purchase_id`` or ``serial``."""
        ...
