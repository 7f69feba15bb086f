"""Claims, the serial register and evidence in memory, mirroring ``adapters/sqlalchemy/claims.py``."""

from __future__ import annotations

from collections.abc import Sequence

from pledge.adapters.memory.state import MemoryStore
from pledge.domain.claims import Claim, ClaimState, EvidenceRef
from pledge.domain.errors import ConflictError
from pledge.domain.grant import GrantState
from pledge.domain.serials import SerialRecord
from pledge.usecases.claim_ports import EvidenceMatch, PreparedEvidence, SerialGrant
from pledge.usecases.serials import changed_serial_error


class MemorySerials:
    def __init__(self, s: MemoryStore) -> None:
        self._s = s

    def add(self, batch: Sequence[SerialRecord], *, update: bool) -> tuple[int, int]:
        written = same = 0
        for record in batch:
            old = self._s.serials.get(record.serial)
            if old == record:
                same += 1
                continue
            if old is not None and not update:
                raise changed_serial_error(old, record)
            self._s.serials[record.serial] = record
            written += 1
        return written, same

    def get(self, serial: str) -> SerialRecord | None:
        return self._s.serials.get(serial)


class MemoryClaims:
    def __init__(self, s: MemoryStore) -> None:
        self._s = s

    def add(self, claim: Claim) -> None:
        if claim.id in self._s.claims:
            raise ConflictError(f"claim {claim.id} exists")
        self._s.claims[claim.id] = claim

    def get(self, claim_id: str, *, for_update: bool = False) -> Claim | None:
        return self._s.claims.get(claim_id)

    def update(self, claim: Claim) -> None:
        if claim.state is ClaimState.APPROVED:
            for other in self._s.claims.values():
                if (
                    other.id != claim.id
                    and other.serial == claim.serial
                    and other.state is ClaimState.APPROVED
                ):
                    raise ConflictError(f"serial {claim.serial} is already paid by claim {other.id}")
        self._s.claims[claim.id] = claim

    def page(
        self,
        *,
        campaign_id: str | None,
        state: ClaimState | None,
        starting_after: str | None,
        limit: int,
        account_id: str | None = None,
    ) -> list[Claim]:
        rows = sorted(self._s.claims.values(), key=lambda c: (c.submitted_at_us, c.id))
        rows = [
            c
            for c in rows
            if (campaign_id is None or c.campaign_id == campaign_id)
            and (state is None or c.state is state)
            and (account_id is None or c.account_id == account_id)
        ]
        if starting_after is not None:
            ids = [c.id for c in rows]
            rows = rows[ids.index(starting_after) + 1 :] if starting_after in ids else []
        return rows[:limit]

    def evidence_like(self, evidence: Sequence[EvidenceRef]) -> list[EvidenceMatch]:
        hashes = {e.sha256 for e in evidence}
        return [
            EvidenceMatch(c.id, c.account_id, e.sha256, e.phash)
            for c in self._s.claims.values()
            for e in c.evidence
            if e.sha256 in hashes or e.phash
        ]

    def count_since(self, account_id: str, since_us: int) -> int:
        return sum(
            1 for c in self._s.claims.values() if c.account_id == account_id and c.submitted_at_us >= since_us
        )

    def of_serial(self, serial: str) -> list[Claim]:
        return sorted((c for c in self._s.claims.values() if c.serial == serial), key=lambda c: c.id)

    def serial_grants(self, serial: str) -> list[SerialGrant]:
        return [
            SerialGrant(g.id, g.campaign_id, g.account_id, g.state.value)
            for gid, g in sorted(self._s.grants.items())
            if self._s.grant_serials.get(gid) == serial and g.state is not GrantState.REVOKED
        ]


class MemoryEvidenceStore:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, evidence: PreparedEvidence) -> None:
        self.files.setdefault(evidence.ref.sha256, evidence.content)

    def open(self, sha256: str) -> bytes | None:
        return self.files.get(sha256)
