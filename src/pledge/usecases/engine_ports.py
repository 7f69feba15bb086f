"""Ports for selection where the purchase history lives (ADR 9, ADR 29).

A ``SelectionEngine`` runs a campaign's window and compiled rule over purchase history outside
Pledge's database (DuckDB over Parquet or CSV files in process; Spark SQL): the scans a dry run
needs, and the ordered candidates. A ``CandidateSets`` store writes and reads candidate sets:
Parquet rows in (purchase instant, purchase id in byte order) order and a manifest naming the
terms they were selected for and a checksum of the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pledge.domain.benefit import Benefit
from pledge.domain.campaign import CashbackTerms
from pledge.domain.issuance import Candidate
from pledge.usecases.scan_ports import NearMiss, PreparedCandidates, ScanCounts, Selection


@dataclass(frozen=True, slots=True)
class WrittenSet:
    """What writing a candidate set produced: its rows, their checksum and the files holding them."""

    rows: int
    checksum: str
    files: Sequence[str]


class SelectionEngine(Protocol):
    name: str

    def version(self) -> str: ...
    def rule_sql(self, selection: Selection) -> str:
        """The window and the rule as this engine runs them (one predicate, literals inline)."""
        ...

    def scan(self, selection: Selection) -> ScanCounts: ...
    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]: ...
    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]: ...
    def candidates(self, selection: Selection) -> Iterator[Sequence[Candidate]]:
        """The candidates in (purchase instant, purchase id in byte order) order, in batches."""
        ...

    def write_candidates(self, selection: Selection, out_dir: str) -> WrittenSet:
        """Write the candidates, ordered, as Parquet under ``out_dir``."""
        ...


class CandidateSet(Protocol):
    manifest: Mapping[str, Any]

    def batches(self) -> Iterator[Sequence[Candidate]]:
        """The rows in order; raises InputError at the end if they do not match the manifest
        (count, checksum) or are out of order, before the caller may commit anything."""
        ...


class CandidateSets(Protocol):
    def write_manifest(self, out_dir: str, manifest: Mapping[str, Any]) -> None: ...
    def open(self, directory: str) -> CandidateSet:
        """A candidate set's manifest, read and checked for shape (InputError if it is not one)."""
        ...


class PurchaseScans(Protocol):
    """What a dry run reads of the purchase history: ``uow.purchases``, or an engine's (ADR 29)."""

    def scan(self, selection: Selection) -> ScanCounts: ...
    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]: ...
    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]: ...
    def prepare(
        self, selection: Selection, terms: CashbackTerms, *, count_issued: bool
    ) -> PreparedCandidates: ...
