"""The audit chain: one hash-chained entry per call that changed (or asked to change) something.

An entry is appended inside the caller's transaction (:func:`append_audit`, the same commit as
the change it records) or on its own (:meth:`SqlAuditLog.audit_append`, a call that committed
nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from pledge.adapters.sqlalchemy.api_tables import audit_head, audit_log
from pledge.adapters.sqlalchemy.engines import reader_engine, write_when_free
from pledge.adapters.sqlalchemy.purchases import STREAM
from pledge.domain.audit import AuditRecord, AuditVerifier, ChainedAudit, canonical_json, chain_audit


@dataclass
class CallAudit:
    """What the audit entry of one call (HTTP or command line) says; written at its first commit.

    ``before`` is read in the transaction that writes the entry (see ``HookedUnitOfWork``), so
    it is the state that change started from, never a read made before the call began.
    ``api_key_id`` is empty for a command run without ``--key``; a command's ``request_id``
    starts with ``cli_``.
    """

    actor: str
    api_key_id: str
    request_id: str
    action: str
    subject: str
    extra_after: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    written: bool = False

    def record(self, at_us: int, after: dict[str, Any]) -> AuditRecord:
        return AuditRecord(
            at_us,
            self.actor,
            self.api_key_id,
            self.request_id,
            self.action,
            self.subject,
            canonical_json(self.before),
            canonical_json({**after, **self.extra_after}),
        )


def append_audit(conn: Connection, record: AuditRecord) -> ChainedAudit:
    """Chain one entry after the head, holding the head's row lock (serializes appends)."""
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update()).one()
    chained = chain_audit(record, int(head.seq), head.hash)
    conn.execute(
        audit_log.insert().values(
            seq=chained.seq,
            prev_hash=chained.prev_hash,
            hash=chained.hash,
            **record._asdict(),
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=chained.seq, hash=chained.hash))
    return chained


def _audit(row: Any) -> ChainedAudit:
    record = AuditRecord(*(row._mapping[name] for name in AuditRecord._fields))
    return ChainedAudit(int(row.seq), record, row.prev_hash, row.hash)


class SqlAuditLog:
    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or reader_engine(engine)

    def audit_append(self, record: AuditRecord, wait_s: float = 0.0) -> ChainedAudit:
        return write_when_free(self.engine, lambda conn: append_audit(conn, record), wait_s)

    def audit_page(self, starting_after: int | None, limit: int, subject: str | None) -> list[ChainedAudit]:
        stmt = select(audit_log).order_by(audit_log.c.seq).limit(limit)
        if starting_after is not None:
            stmt = stmt.where(audit_log.c.seq > starting_after)
        if subject:
            stmt = stmt.where(audit_log.c.subject == subject)
        with self.reader.connect() as conn:
            return [_audit(r) for r in conn.execute(stmt)]

    def verify_audit(self) -> dict[str, Any]:
        """Recompute the chain from the first entry; ``ok`` is False at any edit, insertion or deletion."""
        verifier = AuditVerifier()
        with self.reader.connect() as conn:
            # The head first, then the entries up to it: appends commit entries and head together,
            # so this is consistent even while others append.
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
            rows = conn.execute(
                select(audit_log).where(audit_log.c.seq <= head.seq).order_by(audit_log.c.seq),
                execution_options=STREAM,
            )
            for row in rows:
                verifier.feed(_audit(row))
        verifier.finish(int(head.seq), head.hash)
        return {
            "ok": not verifier.problems,
            "entries": verifier.entries,
            "head_seq": int(head.seq),
            "head_hash": head.hash,
            "problems": verifier.problems,
        }
