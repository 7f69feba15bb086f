"""The notification store behaves alike on the memory fake, SQLite and PostgreSQL (ADR 26)."""

from __future__ import annotations

from pledge.domain.distributions import DistributionState, MessageState
from pledge.domain.notifications import Channel, Purpose
from pledge.usecases.notification_ports import DistributionRecord, Finish, MessageRecord
from tests.contract.conftest import Store, account

NOW = 1_000_000_000


def dist(dist_id: str = "d1", state: DistributionState = DistributionState.RELEASED) -> DistributionRecord:
    return DistributionRecord(
        dist_id, "manual", "c1", "grant_issued", (Channel.EMAIL,), state, NOW, "ops", NOW
    )


def message(
    mid: str, account_id: str = "A1", channel: Channel = Channel.EMAIL, dist_id: str = "d1"
) -> MessageRecord:
    return MessageRecord(
        mid, dist_id, account_id, channel, "grant_issued", Purpose.PROMOTIONAL, f"grant_issued:{mid}", "en",
        "a@example.com", {"n": 1}, MessageState.QUEUED, NOW, NOW,
    )  # fmt: skip


def test_one_message_per_distribution_account_and_channel(store: Store) -> None:
    with store.uow() as uow:
        uow.purchases.add_accounts([account("A1", email="a@example.com")], update=False)
        assert uow.notifications.add_distribution(dist())
        assert not uow.notifications.add_distribution(dist())  # the same id: nothing written
        assert (
            uow.notifications.add_messages(
                [message("m1"), message("m2"), message("m3", channel=Channel.INAPP)]
            )
            == 2
        )
        assert uow.notifications.add_messages([message("m4")]) == 0  # (d1, A1, email) is taken
        uow.commit()
    with store.uow() as uow:
        counts = uow.notifications.counts("d1")
        assert counts == {MessageState.QUEUED: 2}
        assert {r.topic for r in uow.notifications.history(["A1"])["A1"]} == {
            "grant_issued:m1",
            "grant_issued:m3",
        }


def test_a_claim_is_taken_once_answered_by_its_token_and_a_stale_one_is_unknown(store: Store) -> None:
    with store.uow() as uow:
        uow.notifications.add_distribution(dist())
        uow.notifications.add_distribution(dist("held", DistributionState.HELD))
        uow.notifications.add_messages(
            [message("m1"), message("m2", "A2"), message("m3", "A3", dist_id="held")]
        )
        uow.notifications.add_messages([message("m4", channel=Channel.INAPP)])
        uow.commit()
    channels = (Channel.EMAIL, Channel.INAPP)
    with store.uow() as uow:
        assert uow.notifications.due_count(NOW, channels) == 3  # not the held distribution's
        first = uow.notifications.claim(NOW, channels, 1, "t1", 10)
        uow.commit()
    with store.uow() as uow:
        rest = uow.notifications.claim(NOW, channels, 10, "t2", 20)
        uow.commit()
    assert len(first) == 1 and len(rest) == 2 and not {m.id for m in first} & {m.id for m in rest}
    assert all(m.state is MessageState.SENDING and m.attempts == 1 for m in first + rest)
    sent = first[0]
    with store.uow() as uow:
        assert not uow.notifications.finish(sent.id, "t2", Finish(MessageState.SENT), NOW)  # not its claim
        assert uow.notifications.finish(sent.id, "t1", Finish(MessageState.SENT, sent_at_us=NOW), NOW)
        assert uow.notifications.claim(NOW, channels, 10, "t3", 30) == []
        assert uow.notifications.expire_claims(25, NOW) == 1  # t2's email: unknown; its in-app: queued
        uow.commit()
    with store.uow() as uow:
        counts = uow.notifications.counts("d1")
        assert counts[MessageState.SENT] == counts[MessageState.UNKNOWN] == counts[MessageState.QUEUED] == 1
        assert uow.notifications.release_due(NOW) == 1
        assert uow.notifications.cancel_queued("held", NOW) == 1


def test_recipients_are_the_accounts_that_exist_with_their_contacts(store: Store) -> None:
    with store.uow() as uow:
        uow.purchases.add_accounts(
            [account("A1", email="a@example.com", locale="en"), account("A2", phone="+8613800000000")],
            update=False,
        )
        uow.commit()
    with store.uow() as uow:
        found = uow.notifications.recipients(["A2", "A1", "nobody"])
    assert sorted(found) == ["A1", "A2"]
    assert (found["A1"].email, found["A1"].phone, found["A1"].locale) == ("a@example.com", "", "en")
    assert (found["A2"].phone, found["A2"].locale) == ("+8613800000000", "zh-CN")
    assert found["A1"].address(Channel.INAPP) == "A1"


def test_distributions_and_messages_are_written_in_bulk_once(store: Store) -> None:
    """Set-based writes (a compensation batch's messages): more rows than one multi-row INSERT holds,
    duplicates inside one call and against earlier rows are skipped and not counted."""
    n = 1_200
    with store.uow() as uow:
        uow.purchases.add_accounts([account("A1", email="a@example.com")], update=False)
        ids = [f"t{i:05d}" for i in range(n)]
        assert uow.notifications.add_distributions([dist(i) for i in ids]) == set(ids)
        assert uow.notifications.add_distributions([dist(ids[0]), dist("new")]) == {"new"}
        batch = [message(f"m{i}", dist_id=i) for i in ids]
        assert uow.notifications.add_messages([*batch, message("dup", dist_id=ids[1])]) == n
        assert uow.notifications.add_messages(batch[:10]) == 0
        uow.commit()
    with store.uow() as uow:
        assert uow.notifications.counts(ids[-1]) == {MessageState.QUEUED: 1}
        assert uow.notifications.get_distribution("new") is not None


def test_transactional_distributions_stay_out_of_the_campaign_funnel(store: Store) -> None:
    with store.uow() as uow:
        uow.notifications.add_distribution(dist())
        txn = DistributionRecord(
            "txn_1", "transactional", "c1", "claim_decided", (Channel.EMAIL,),
            DistributionState.RELEASED, NOW, "system", NOW,
        )  # fmt: skip
        uow.notifications.add_distribution(txn)
        assert [d.id for d in uow.notifications.distributions("c1", 10)] == ["d1"]
