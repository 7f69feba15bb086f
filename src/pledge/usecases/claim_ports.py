"""The ports claims need: the serial register, the claims themselves, and the evidence files.

Evidence is checked and re-encoded by an :class:`EvidenceProcessor` before anything is stored,
and kept by an :class:`EvidenceStore` under its SHA-256 (content-addressed). The store is
narrow on purpose: put and open by hash; nothing here serves a file to anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pledge.domain.claims import Claim, ClaimState, EvidenceRef
from pledge.domain.serials import SerialRecord


class SerialRegister(Protocol):
    def add(self, batch: Sequence[SerialRecord], *, update: bool) -> tuple[int, int]:
        """Store a batch; (written, unchanged). A serial already stored with other content is an
        :class:`~pledge.domain.errors.InputError` unless ``update``."""
        ...

    def get(self, serial: str) -> SerialRecord | None: ...


@dataclass(frozen=True, slots=True)
class EvidenceMatch:
    """A stored evidence file of another claim that matches one of this claim's."""

    claim_id: str
    account_id: str
    sha256: str
    phash: str


@dataclass(frozen=True, slots=True)
class SerialGrant:
    """A grant that pays a serial, through any campaign path (imported purchase or claim)."""

    grant_id: str
    campaign_id: str
    account_id: str
    state: str


class Claims(Protocol):
    def add(self, claim: Claim) -> None: ...
    def get(self, claim_id: str, *, for_update: bool = False) -> Claim | None: ...
    def update(self, claim: Claim) -> None:
        """Store a decision; approving records the serial as paid, and the database refuses a
        second approved claim for one serial (a unique key): a :class:`ConflictError`."""
        ...

    def page(
        self,
        *,
        campaign_id: str | None,
        state: ClaimState | None,
        starting_after: str | None,
        limit: int,
        account_id: str | None = None,
    ) -> list[Claim]:
        """Oldest first (by submission, then id); ``account_id``: that account's claims only."""
        ...

    def evidence_like(self, evidence: Sequence[EvidenceRef]) -> list[EvidenceMatch]:
        """Stored evidence with the same SHA-256 as one of ``evidence``, or any perceptual hash
        (the caller measures how near)."""
        ...

    def count_since(self, account_id: str, since_us: int) -> int:
        """Claims the account submitted at or after ``since_us``."""
        ...

    def of_serial(self, serial: str) -> list[Claim]: ...
    def serial_grants(self, serial: str) -> list[SerialGrant]:
        """Grants on ``serial`` in any campaign that are not revoked."""
        ...


@dataclass(frozen=True, slots=True)
class PreparedEvidence:
    """A checked evidence file: the bytes to store (images re-encoded, metadata gone) and its ref."""

    ref: EvidenceRef
    content: bytes


class EvidenceProcessor(Protocol):
    def prepare(self, name: str, data: bytes) -> PreparedEvidence:
        """Check a file by its content and make it safe to keep; an InputError names what is wrong."""
        ...


class EvidenceStore(Protocol):
    def put(self, evidence: PreparedEvidence) -> None:
        """Keep the file under its SHA-256; storing the same content again changes nothing."""
        ...

    def open(self, sha256: str) -> bytes | None: ...
