"""The serial register and claims on SQLAlchemy Core (ADR 28).

One serial, one payout is the ``claims.paid_serial`` unique key: two reviewers approving two
claims of one serial at the same moment cannot both succeed, whatever the code above does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pledge.adapters.sqlalchemy.claim_tables import claim_evidence, claims, serials
from pledge.adapters.sqlalchemy.expiry import GRANT_ROWS, lapsed_state
from pledge.adapters.sqlalchemy.tables import grants
from pledge.domain.claims import Check, Claim, ClaimState, EvidenceRef, Flag
from pledge.domain.errors import ConflictError
from pledge.domain.grant import GrantState
from pledge.domain.serials import SerialRecord
from pledge.usecases.claim_ports import EvidenceMatch, SerialGrant
from pledge.usecases.serials import changed_serial_error

_LOOKUP = 500  # serials looked up per statement (well under every engine's parameter limit)


class SqlSerials:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, batch: Sequence[SerialRecord], *, update: bool) -> tuple[int, int]:
        written = same = 0
        for start in range(0, len(batch), _LOOKUP):
            part = batch[start : start + _LOOKUP]
            rows = self._conn.execute(select(serials).where(serials.c.serial.in_([r.serial for r in part])))
            stored = {row.serial: _serial(row) for row in rows}
            fresh = [r for r in part if r.serial not in stored]
            changed = [r for r in part if r.serial in stored and stored[r.serial] != r]
            same += len(part) - len(fresh) - len(changed)
            if changed and not update:
                raise changed_serial_error(stored[changed[0].serial], changed[0])
            if fresh:
                self._conn.execute(insert(serials), [r._asdict() for r in fresh])
            for record in changed:
                self._conn.execute(
                    serials.update().where(serials.c.serial == record.serial).values(**record._asdict())
                )
            written += len(fresh) + len(changed)
        return written, same

    def get(self, serial: str) -> SerialRecord | None:
        row = self._conn.execute(select(serials).where(serials.c.serial == serial)).first()
        return _serial(row) if row else None


def _serial(row: Any) -> SerialRecord:
    activated = row.activated_at_us
    return SerialRecord(
        row.serial,
        row.sku,
        int(row.sold_at_us),
        row.channel,
        row.region,
        None if activated is None else int(activated),
    )


class SqlClaims:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, claim: Claim) -> None:
        self._conn.execute(insert(claims).values(**_values(claim)))
        if claim.evidence:
            self._conn.execute(
                insert(claim_evidence),
                [
                    {
                        "claim_id": claim.id,
                        "position": i,
                        "sha256": e.sha256,
                        "kind": e.kind,
                        "size": e.size,
                        "phash": e.phash,
                        "account_id": claim.account_id,
                    }
                    for i, e in enumerate(claim.evidence)
                ],
            )

    def get(self, claim_id: str, *, for_update: bool = False) -> Claim | None:
        stmt = select(claims).where(claims.c.claim_id == claim_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).first()
        return self._claims([row])[0] if row else None

    def update(self, claim: Claim) -> None:
        values = _values(claim)
        del values["claim_id"]
        try:
            with self._conn.begin_nested():
                self._conn.execute(update(claims).where(claims.c.claim_id == claim.id).values(**values))
        except IntegrityError:
            raise ConflictError(
                f"claim {claim.id}: serial {claim.serial} is already paid through another approved claim",
                code="serial_paid",
            ) from None

    def page(
        self,
        *,
        campaign_id: str | None,
        state: ClaimState | None,
        starting_after: str | None,
        limit: int,
        account_id: str | None = None,
    ) -> list[Claim]:
        stmt = select(claims)
        if campaign_id is not None:
            stmt = stmt.where(claims.c.campaign_id == campaign_id)
        if state is not None:
            stmt = stmt.where(claims.c.state == state.value)
        if account_id is not None:
            stmt = stmt.where(claims.c.account_id == account_id)
        if starting_after is not None:
            at = select(claims.c.submitted_at_us).where(claims.c.claim_id == starting_after).scalar_subquery()
            stmt = stmt.where(
                or_(
                    claims.c.submitted_at_us > at,
                    and_(claims.c.submitted_at_us == at, claims.c.claim_id > starting_after),
                )
            )
        rows = self._conn.execute(stmt.order_by(claims.c.submitted_at_us, claims.c.claim_id).limit(limit))
        return self._claims(list(rows))

    def evidence_like(self, evidence: Sequence[EvidenceRef]) -> list[EvidenceMatch]:
        hashes = [e.sha256 for e in evidence]
        if not evidence:
            return []
        stmt = select(
            claim_evidence.c.claim_id,
            claim_evidence.c.account_id,
            claim_evidence.c.sha256,
            claim_evidence.c.phash,
        ).where(or_(claim_evidence.c.sha256.in_(hashes), claim_evidence.c.phash != ""))
        return [EvidenceMatch(r.claim_id, r.account_id, r.sha256, r.phash) for r in self._conn.execute(stmt)]

    def count_since(self, account_id: str, since_us: int) -> int:
        stmt = select(func.count()).where(
            claims.c.account_id == account_id, claims.c.submitted_at_us >= since_us
        )
        return int(self._conn.execute(stmt).scalar_one())

    def of_serial(self, serial: str) -> list[Claim]:
        rows = self._conn.execute(select(claims).where(claims.c.serial == serial).order_by(claims.c.claim_id))
        return self._claims(list(rows))

    def serial_grants(self, serial: str) -> list[SerialGrant]:
        stmt = (
            GRANT_ROWS.with_only_columns(
                grants.c.grant_id, grants.c.campaign_id, grants.c.account_id, lapsed_state().label("state")
            )
            .where(grants.c.serial == serial, grants.c.state != GrantState.REVOKED.value)
            .order_by(grants.c.grant_id)
        )
        return [
            SerialGrant(r.grant_id, r.campaign_id, r.account_id, r.state) for r in self._conn.execute(stmt)
        ]

    def _claims(self, rows: Sequence[Any]) -> list[Claim]:
        ids = [r.claim_id for r in rows]
        files: dict[str, list[EvidenceRef]] = {i: [] for i in ids}
        if ids:
            stmt = (
                select(claim_evidence)
                .where(claim_evidence.c.claim_id.in_(ids))
                .order_by(claim_evidence.c.claim_id, claim_evidence.c.position)
            )
            for e in self._conn.execute(stmt):
                files[e.claim_id].append(EvidenceRef(e.sha256, e.kind, int(e.size), e.phash))
        return [_claim(r, tuple(files[r.claim_id])) for r in rows]


def _values(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": claim.id,
        "campaign_id": claim.campaign_id,
        "account_id": claim.account_id,
        "serial": claim.serial,
        "sku": claim.sku,
        "purchased_at_us": claim.purchased_at_us,
        "price_minor": claim.price_minor,
        "currency": claim.currency,
        "amount_minor": claim.amount_minor,
        "state": claim.state.value,
        "checks": json.dumps([c.as_json() for c in claim.checks], ensure_ascii=False),
        "flags": json.dumps([f.as_json() for f in claim.flags], ensure_ascii=False),
        "submitted_by": claim.submitted_by,
        "submitted_at_us": claim.submitted_at_us,
        "approvals": json.dumps(list(claim.approvals), ensure_ascii=False),
        "decided_by": claim.decided_by,
        "decided_at_us": claim.decided_at_us,
        "reason": claim.reason,
        "grant_id": claim.grant_id,
        "paid_serial": claim.serial if claim.state is ClaimState.APPROVED else None,
    }


def _claim(row: Any, evidence: tuple[EvidenceRef, ...]) -> Claim:
    return Claim(
        row.claim_id,
        row.campaign_id,
        row.account_id,
        row.serial,
        int(row.purchased_at_us),
        int(row.price_minor),
        row.currency,
        int(row.amount_minor),
        ClaimState(row.state),
        tuple(Check(c["name"], bool(c["passed"]), c["detail"]) for c in json.loads(row.checks)),
        tuple(Flag(f["name"], f["detail"]) for f in json.loads(row.flags)),
        row.submitted_by,
        int(row.submitted_at_us),
        evidence=evidence,
        approvals=tuple(json.loads(row.approvals)),
        decided_by=row.decided_by,
        decided_at_us=None if row.decided_at_us is None else int(row.decided_at_us),
        reason=row.reason,
        grant_id=row.grant_id,
        sku=row.sku,
    )
