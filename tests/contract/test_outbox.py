"""The ``Outbox`` port: messages queued once, read in (due time, id) order, withdrawn if undelivered."""

from __future__ import annotations

from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store


def _queue(u: UnitOfWork, message_id: str, due_at_us: int, account_id: str = "A1") -> bool:
    return u.outbox.enqueue(message_id, "renewal_reminder", account_id, None, due_at_us, {"n": 1}, 5)


def test_pending_with_equal_due_times_is_ordered_by_message_id(store: Store) -> None:
    # Inserted out of id order, so a store reading in insertion order would show it.
    with store.uow() as u:
        for message_id in ("m3", "m1", "m4", "m2"):
            assert _queue(u, message_id, 100)
        assert _queue(u, "m0", 200)
        u.commit()
    with store.uow() as u:
        assert [m["id"] for m in u.outbox.pending(limit=2)] == ["m1", "m2"]
        assert [m["id"] for m in u.outbox.pending(limit=10)] == ["m1", "m2", "m3", "m4", "m0"]


def test_pending_is_ordered_by_due_time_first(uow: UnitOfWork) -> None:
    _queue(uow, "a", 300)
    _queue(uow, "b", 100)
    _queue(uow, "c", 200)
    assert [m["id"] for m in uow.outbox.pending()] == ["b", "c", "a"]
    assert uow.outbox.pending(limit=0) == []


def test_a_message_reads_back_as_queued(uow: UnitOfWork) -> None:
    payload = {"plan": "gold", "amount_minor": 1_500, "名": "续费"}
    assert uow.outbox.enqueue("m1", "renewal_reminder", "A1", "T1", 100, payload, 5)
    assert uow.outbox.pending() == [
        {
            "id": "m1",
            "kind": "renewal_reminder",
            "account_id": "A1",
            "term_id": "T1",
            "due_at_us": 100,
            "payload": payload,
        }
    ]


def test_a_message_is_queued_once(uow: UnitOfWork) -> None:
    assert _queue(uow, "m1", 100)
    assert not uow.outbox.enqueue("m1", "other", "A2", None, 50, {"n": 2}, 6)
    [message] = uow.outbox.pending()
    assert (message["kind"], message["account_id"], message["due_at_us"]) == ("renewal_reminder", "A1", 100)


def test_pending_of_one_account(uow: UnitOfWork) -> None:
    _queue(uow, "m1", 100, "A1")
    _queue(uow, "m2", 100, "A2")
    _queue(uow, "m3", 50, "A1")
    assert [m["id"] for m in uow.outbox.pending(account_id="A1")] == ["m3", "m1"]
    assert [m["id"] for m in uow.outbox.pending(account_id="A1", limit=1)] == ["m3"]
    assert uow.outbox.pending(account_id="nobody") == []


def test_cancel_withdraws_a_pending_message_once(uow: UnitOfWork) -> None:
    _queue(uow, "m1", 100)
    _queue(uow, "m2", 100)
    assert uow.outbox.cancel("m1")
    assert not uow.outbox.cancel("m1")
    assert not uow.outbox.cancel("never-queued")
    assert [m["id"] for m in uow.outbox.pending()] == ["m2"]


def test_nothing_uncommitted_is_kept(store: Store) -> None:
    with store.uow() as u:
        _queue(u, "kept", 100)
        u.commit()
        _queue(u, "dropped", 100)
    with store.uow() as u:
        assert [m["id"] for m in u.outbox.pending()] == ["kept"]
