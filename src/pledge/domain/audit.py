"""The audit log: who changed what through the API, append-only and hash-chained.

Same construction as the ledger (:mod:`pledge.domain.ledger`): each entry's
hash covers its position, its content and the hash before it, and a head row
holds the last (seq, hash), so editing, inserting or deleting any stored entry
— including the last one — is detected by :class:`AuditVerifier`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

GENESIS_HASH = "0" * 64


class AuditRecord(NamedTuple):
    at_us: int
    actor: str
    api_key_id: str
    request_id: str
    action: str  # e.g. campaign.approve
    subject: str  # e.g. campaign:founders-refund
    before: str  # canonical JSON (see canonical_json)
    after: str


class ChainedAudit(NamedTuple):
    seq: int
    record: AuditRecord
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """One spelling per value, so the hash of a stored entry can be recomputed byte for byte."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def audit_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    r = record
    parts = (str(seq), prev_hash, str(r.at_us), r.actor, r.api_key_id, r.request_id, r.action, r.subject)
    line = "\x1f".join((*parts, r.before, r.after))
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def chain_audit(record: AuditRecord, head_seq: int, head_hash: str) -> ChainedAudit:
    seq = head_seq + 1
    return ChainedAudit(seq, record, head_hash, audit_hash(head_hash, seq, record))


@dataclass
class AuditVerifier:
    """Streams stored entries in order and reports breaks (at most ``max_problems``)."""

    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    max_problems: int = 20

    def _problem(self, text: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(text)

    def feed(self, entry: ChainedAudit) -> None:
        self.entries += 1
        if entry.seq != self.expected_seq:
            self._problem(f"audit entry {entry.seq}: expected sequence {self.expected_seq} (one is missing)")
        if entry.prev_hash != self.prev_hash:
            self._problem(f"audit entry {entry.seq}: previous hash does not match the entry before it")
        if audit_hash(entry.prev_hash, entry.seq, entry.record) != entry.hash:
            self._problem(f"audit entry {entry.seq} ({entry.record.action}): content does not match its hash")
        self.expected_seq = entry.seq + 1
        self.prev_hash = entry.hash

    def finish(self, head_seq: int, head_hash: str) -> None:
        if head_seq != self.expected_seq - 1 or head_hash != self.prev_hash:
            self._problem(
                f"audit head says entry {head_seq} but the chain ends at {self.expected_seq - 1} "
                "(entries deleted at the end, or the head was edited)"
            )
