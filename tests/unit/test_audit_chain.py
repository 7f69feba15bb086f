"""The audit log's hash chain: any edited, missing or trailing-deleted entry is reported."""

from __future__ import annotations

from pledge.domain.audit import GENESIS_HASH, AuditRecord, AuditVerifier, canonical_json, chain_audit


def _chain(n: int) -> list:
    entries, seq, head = [], 0, GENESIS_HASH
    for i in range(n):
        record = AuditRecord(
            i, "ann", "key1", f"req{i}", "campaign.approve", "campaign:c1", "{}", canonical_json({"v": i})
        )
        entry = chain_audit(record, seq, head)
        entries.append(entry)
        seq, head = entry.seq, entry.hash
    return entries


def _verify(entries: list, head_seq: int, head_hash: str, max_problems: int = 20) -> list[str]:
    verifier = AuditVerifier(max_problems=max_problems)
    for entry in entries:
        verifier.feed(entry)
    verifier.finish(head_seq, head_hash)
    return verifier.problems


def test_canonical_json_has_one_spelling() -> None:
    assert canonical_json({"b": 1, "a": "返现"}) == '{"a":"返现","b":1}'


def test_an_untouched_chain_verifies() -> None:
    entries = _chain(3)
    assert _verify(entries, 3, entries[-1].hash) == []
    assert _verify([], 0, GENESIS_HASH) == []


def test_an_edited_entry_is_reported() -> None:
    entries = _chain(3)
    edited = entries[1]._replace(record=entries[1].record._replace(actor="mallory"))
    [problem] = _verify([entries[0], edited, entries[2]], 3, entries[-1].hash)
    assert problem == "audit entry 2 (campaign.approve): content does not match its hash"


def test_a_missing_entry_is_reported() -> None:
    entries = _chain(3)
    problems = _verify([entries[0], entries[2]], 3, entries[-1].hash)
    assert problems == [
        "audit entry 3: expected sequence 2 (one is missing)",
        "audit entry 3: previous hash does not match the entry before it",
    ]


def test_entries_deleted_at_the_end_are_reported_by_the_head() -> None:
    entries = _chain(3)
    [problem] = _verify(entries[:2], 3, entries[-1].hash)
    assert problem.startswith("audit head says entry 3 but the chain ends at 2")


def test_problems_are_capped() -> None:
    entries = _chain(4)
    shuffled = [entries[3], entries[2], entries[1], entries[0]]
    assert len(_verify(shuffled, 4, entries[-1].hash, max_problems=2)) == 2
