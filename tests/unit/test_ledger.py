from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.domain.errors import InvariantViolation
from pledge.domain.ledger import GENESIS_HASH, ChainedTransfer, ChainVerifier, Transfer, chain


def transfer(i: int, amount: int = 100, debit: str = "a", credit: str = "b") -> Transfer:
    return Transfer(f"t{i}", debit, credit, "CNY", amount, "test", f"ref{i}", i)


def verify(entries: list[ChainedTransfer], head: tuple[int, str] | None = None) -> ChainVerifier:
    verifier = ChainVerifier()
    for entry in entries:
        verifier.feed(entry)
    if head is None:
        head = (entries[-1].seq, entries[-1].hash) if entries else (0, GENESIS_HASH)
    verifier.finish(*head)
    return verifier


accounts = st.sampled_from(["budget", "funding", "grants", "wallet:A", "wallet:B"])


@given(
    st.lists(
        st.tuples(accounts, accounts, st.integers(1, 10**12)).filter(lambda t: t[0] != t[1]), max_size=40
    )
)
def test_any_chain_verifies_and_balances_sum_to_zero(moves: list[tuple[str, str, int]]) -> None:
    entries = chain([transfer(i, amount, d, c) for i, (d, c, amount) in enumerate(moves)], 0, GENESIS_HASH)
    verifier = verify(entries)
    assert verifier.problems == []
    assert sum(verifier.balances.values()) == 0


def test_edit_delete_and_truncate_are_detected() -> None:
    entries = chain([transfer(i) for i in range(5)], 0, GENESIS_HASH)
    head = (entries[-1].seq, entries[-1].hash)
    edited = list(entries)
    edited[2] = edited[2]._replace(transfer=edited[2].transfer._replace(amount=1_000_000))
    assert any("edited" in p for p in verify(edited, head).problems)
    deleted = entries[:2] + entries[3:]
    assert any("missing" in p for p in verify(deleted, head).problems)
    assert any("head" in p for p in verify(entries[:4], head).problems)
    assert verify(entries, head).problems == []


def test_bad_transfers_are_refused() -> None:
    with pytest.raises(InvariantViolation):
        chain([transfer(1, amount=0)], 0, GENESIS_HASH)
    with pytest.raises(InvariantViolation):
        chain([transfer(1, debit="x", credit="x")], 0, GENESIS_HASH)
