"""Distributions and messages in memory, mirroring ``adapters/sqlalchemy/notifications.py``.

The state lives on the :class:`~pledge.adapters.memory.state.MemoryStore` as a
:class:`~pledge.adapters.memory.tables.NotificationState`, whose ``__copy__`` copies every
container, so a unit of work's snapshot covers it. Rows are immutable values: writes replace them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pledge.adapters.memory.state import MemoryStore
from pledge.domain.distributions import TOLD_STATES, DistributionState, MessageState
from pledge.domain.grant import Grant, GrantState
from pledge.domain.notifications import Channel, Recipient, SentRecord
from pledge.usecases.notification_ports import DistributionRecord, Finish, Holder, InappMessage, MessageRecord


class MemoryNotifications:
    def __init__(self, s: MemoryStore) -> None:
        self._s = s
        self._n = s.notifications

    def _recipient(self, account_id: str) -> Recipient | None:
        account = self._s.accounts.get(account_id)
        if account is None:
            return None
        return Recipient(
            account_id,
            email=account.email,
            phone=account.phone,
            locale=account.locale,
            opted_out=self._n.optouts.get(account_id, frozenset()),
        )

    def recipients(self, account_ids: Sequence[str]) -> dict[str, Recipient]:
        found = {a: self._recipient(a) for a in account_ids}
        return {a: r for a, r in found.items() if r is not None}

    def holders(self, campaign_id: str, after_account: str, limit: int) -> list[Holder]:
        held: dict[str, list[Grant]] = {}
        for g in self._s.grants.values():
            if g.campaign_id == campaign_id and g.state is GrantState.ISSUED and g.account_id > after_account:
                held.setdefault(g.account_id, []).append(g)
        found = []
        for account_id in sorted(held)[:limit]:
            person = self._recipient(account_id)
            if person is not None:
                found.append(Holder(person, sorted(held[account_id], key=lambda g: (g.expires_at_us, g.id))))
        return found

    def expiring_holders(
        self, now_us: int, horizon_us: int, after_grant: str, limit: int
    ) -> list[tuple[Grant, Recipient]]:
        due = sorted(
            (
                g
                for g in self._s.grants.values()
                if g.state is GrantState.ISSUED
                and now_us < g.expires_at_us <= now_us + horizon_us
                and g.id > after_grant
            ),
            key=lambda g: g.id,
        )[:limit]
        found = []
        for g in due:
            person = self._recipient(g.account_id)
            if person is not None:
                found.append((g, person))
        return found

    def history(
        self, account_ids: Sequence[str], *, every_state: bool = False
    ) -> dict[str, list[SentRecord]]:
        wanted = set(account_ids)
        told: dict[str, list[SentRecord]] = {}
        for r in self._n.messages.values():
            counted = r.state is not MessageState.CANCELLED if every_state else r.state in TOLD_STATES
            if r.account_id in wanted and counted:
                at = r.sent_at_us if r.sent_at_us is not None else r.next_attempt_us
                told.setdefault(r.account_id, []).append(SentRecord(r.channel, r.topic, r.purpose, at))
        return told

    def add_distribution(self, record: DistributionRecord) -> bool:
        if record.id in self._n.distributions:
            return False
        self._n.distributions[record.id] = record
        return True

    def add_distributions(self, records: Sequence[DistributionRecord]) -> set[str]:
        return {r.id for r in records if self.add_distribution(r)}

    def get_distribution(
        self, distribution_id: str, *, for_update: bool = False
    ) -> DistributionRecord | None:
        return self._n.distributions.get(distribution_id)

    def set_distribution(
        self, distribution_id: str, state: DistributionState, recipients: int, now_us: int
    ) -> None:
        record = self._n.distributions[distribution_id]
        self._n.distributions[distribution_id] = replace(record, state=state, recipients=recipients)

    def add_messages(self, records: Sequence[MessageRecord]) -> int:
        added = 0
        for r in records:
            key = (r.distribution_id, r.account_id, r.channel.value)
            if key in self._n.keys or r.id in self._n.messages:
                continue
            self._n.keys[key] = r.id
            self._n.messages[r.id] = r
            added += 1
        return added

    def release_due(self, now_us: int) -> int:
        due = [
            r
            for r in self._n.distributions.values()
            if r.state is DistributionState.HELD and r.hold_until_us <= now_us
        ]
        for r in due:
            self._n.distributions[r.id] = replace(r, state=DistributionState.RELEASED)
        return len(due)

    def cancel_queued(self, distribution_id: str, now_us: int) -> int:
        queued = [
            r
            for r in self._n.messages.values()
            if r.distribution_id == distribution_id and r.state is MessageState.QUEUED
        ]
        for r in queued:
            self._n.messages[r.id] = replace(r, state=MessageState.CANCELLED, reason="cancelled")
        return len(queued)

    def _due(self, now_us: int, channels: Sequence[Channel]) -> list[MessageRecord]:
        released = {k for k, r in self._n.distributions.items() if r.state is DistributionState.RELEASED}
        return sorted(
            (
                r
                for r in self._n.messages.values()
                if r.state is MessageState.QUEUED
                and r.next_attempt_us <= now_us
                and r.channel in channels
                and r.distribution_id in released
            ),
            key=lambda r: (r.next_attempt_us, r.id),
        )

    def due_count(self, now_us: int, channels: Sequence[Channel]) -> int:
        return len(self._due(now_us, channels))

    def claim(
        self, now_us: int, channels: Sequence[Channel], limit: int, token: str, wall_us: int
    ) -> list[MessageRecord]:
        claimed = []
        for r in self._due(now_us, channels)[:limit]:
            taken = replace(r, state=MessageState.SENDING, claim_token=token, attempts=r.attempts + 1)
            self._n.messages[r.id] = taken
            self._n.claimed_at[r.id] = wall_us
            claimed.append(taken)
        return sorted(claimed, key=lambda r: r.id)

    def finish(self, message_id: str, token: str, finish: Finish, now_us: int) -> bool:
        r = self._n.messages.get(message_id)
        if r is None or r.claim_token != token:
            return False
        changes: dict[str, Any] = {
            "state": finish.state,
            "reason": finish.reason[:200],
            "provider_ref": finish.provider_ref[:128],
            "claim_token": "",
        }
        if finish.next_attempt_us is not None:
            changes["next_attempt_us"] = finish.next_attempt_us
        if finish.sent_at_us is not None:
            changes["sent_at_us"] = finish.sent_at_us
        if finish.title or finish.body:
            self._n.content[message_id] = (finish.title, finish.body)
        self._n.messages[message_id] = replace(r, **changes)
        return True

    def expire_claims(self, older_than_wall_us: int, now_us: int) -> int:
        stale = [
            r
            for r in self._n.messages.values()
            if r.state is MessageState.SENDING and self._n.claimed_at.get(r.id, 0) < older_than_wall_us
        ]
        unknown = 0
        for r in stale:
            if r.channel is Channel.INAPP:  # never shown until its answer is committed: queue again
                self._n.messages[r.id] = replace(r, state=MessageState.QUEUED, claim_token="")
                continue
            self._n.messages[r.id] = replace(
                r, state=MessageState.UNKNOWN, reason="no answer recorded: the worker stopped while sending"
            )
            unknown += 1
        return unknown

    def counts(self, distribution_id: str) -> dict[MessageState, int]:
        found: dict[MessageState, int] = {}
        for r in self._n.messages.values():
            if r.distribution_id == distribution_id:
                found[r.state] = found.get(r.state, 0) + 1
        return found

    def distributions(self, campaign_id: str, limit: int) -> list[DistributionRecord]:
        mine = [
            r
            for r in self._n.distributions.values()
            if r.campaign_id == campaign_id and r.kind != "transactional"
        ]
        return sorted(mine, key=lambda r: (-r.created_at_us, r.id))[:limit]

    def opened_after(self, distribution_id: str, campaign_id: str) -> int:
        sent = [
            r
            for r in self._n.messages.values()
            if r.distribution_id == distribution_id
            and r.state is MessageState.SENT
            and r.sent_at_us is not None
        ]
        return len(
            {
                r.account_id
                for r in sent
                for g in self._s.grants.values()
                if g.account_id == r.account_id
                and g.campaign_id == campaign_id
                and g.claimed_at_us is not None
                and r.sent_at_us is not None
                and g.claimed_at_us >= r.sent_at_us
            }
        )

    def inapp(self, account_id: str, limit: int) -> list[InappMessage]:
        mine = [
            r
            for r in self._n.messages.values()
            if r.account_id == account_id and r.channel is Channel.INAPP and r.state is MessageState.SENT
        ]
        mine.sort(key=lambda r: (-(r.sent_at_us or 0), r.id))
        return [
            InappMessage(r.id, r.template, r.locale, *self._n.content.get(r.id, ("", "")), r.sent_at_us or 0)
            for r in mine[:limit]
        ]

    def opt_out(self, message_id: str, now_us: int) -> MessageRecord | None:
        r = self._n.messages.get(message_id)
        if r is None:
            return None
        self._n.optouts[r.account_id] = self._n.optouts.get(r.account_id, frozenset()) | {
            (r.channel, r.purpose)
        }
        return r
