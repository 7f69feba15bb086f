"""The ``Ledger`` port: transfers chained after the head, each id once, read back in order."""

from __future__ import annotations

import pytest

from pledge.domain.ledger import GENESIS_HASH, Transfer, chain
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store


def _transfer(transfer_id: str, amount: int = 100, at_us: int = 10) -> Transfer:
    return Transfer(transfer_id, "budget:c1", "grants:c1", "CNY", amount, "issue", "c1", at_us)


def test_an_empty_ledger_starts_at_genesis(uow: UnitOfWork) -> None:
    assert uow.ledger.head() == (0, GENESIS_HASH)
    assert list(uow.ledger.entries()) == []
    assert uow.ledger.append([]) == 0
    assert uow.ledger.head() == (0, GENESIS_HASH)


def test_appended_transfers_are_chained_after_the_head(store: Store) -> None:
    first = [_transfer("t1"), _transfer("t2", 250)]
    with store.uow() as u:
        assert u.ledger.append(first) == 2
        u.commit()
    with store.uow() as u:
        assert u.ledger.append([_transfer("t3", 7, 20)]) == 1
        u.commit()
    expected = chain([*first, _transfer("t3", 7, 20)], 0, GENESIS_HASH)
    with store.uow() as u:
        assert list(u.ledger.entries()) == expected
        assert u.ledger.head() == (3, expected[-1].hash)


def test_a_transfer_id_is_booked_once(store: Store) -> None:
    with store.uow() as u:
        u.ledger.append([_transfer("t1")])
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.ledger.append([_transfer("t1", 5)])
    with store.uow() as u, pytest.raises(store.refused):  # twice within one append, too
        u.ledger.append([_transfer("t2"), _transfer("t2")])
    with store.uow() as u:
        assert [c.transfer.id for c in u.ledger.entries()] == ["t1"]
        assert u.ledger.head()[0] == 1


def test_an_uncommitted_append_leaves_the_head(store: Store) -> None:
    with store.uow() as u:
        u.ledger.append([_transfer("t1")])
    with store.uow() as u:
        assert u.ledger.head() == (0, GENESIS_HASH)
        assert list(u.ledger.entries()) == []
