"""Distributions and messages on SQLAlchemy Core (ADR 26).

The unique key (distribution, account, channel) makes "one message per person and channel" a
fact of the database: inserts that would break it are skipped (``ON CONFLICT DO NOTHING``), never
turned into a second message. Workers claim messages with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` makes each unit of work the only writer) and the claim's
``UPDATE … WHERE state = 'queued'`` re-checks the state under the row lock, so two workers never
hold the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pledge.adapters.sqlalchemy import expiry
from pledge.adapters.sqlalchemy.notification_rows import (
    distribution_record,
    distribution_values,
    insert_new,
    message_record,
    message_values,
)
from pledge.adapters.sqlalchemy.notification_tables import (
    notification_distributions as d,
)
from pledge.adapters.sqlalchemy.notification_tables import (
    notification_messages as m,
)
from pledge.adapters.sqlalchemy.notification_tables import (
    notification_optouts as o,
)
from pledge.adapters.sqlalchemy.repositories import grant_of
from pledge.adapters.sqlalchemy.tables import accounts, grants
from pledge.domain.contacts import DEFAULT_ACCOUNT_LOCALE
from pledge.domain.distributions import TOLD_STATES, DistributionState, MessageState
from pledge.domain.grant import Grant, GrantState
from pledge.domain.notifications import Channel, Purpose, Recipient, SentRecord
from pledge.usecases.notification_ports import DistributionRecord, Finish, Holder, InappMessage, MessageRecord

_TOLD = [s.value for s in TOLD_STATES]


class SqlNotifications:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self._pg else sqlite_insert)(table)

    def recipients(self, account_ids: Sequence[str]) -> dict[str, Recipient]:
        if not account_ids:
            return {}
        outs: dict[str, set[tuple[Channel, Purpose]]] = {}
        for row in self._conn.execute(select(o).where(o.c.account_id.in_(account_ids))):
            outs.setdefault(row.account_id, set()).add((Channel(row.channel), Purpose(row.purpose)))
        rows = self._conn.execute(
            select(accounts.c.account_id, accounts.c.email, accounts.c.phone, accounts.c.locale).where(
                accounts.c.account_id.in_(account_ids)
            )
        )
        return {
            r.account_id: Recipient(
                r.account_id,
                email=r.email or "",
                phone=r.phone or "",
                locale=r.locale or DEFAULT_ACCOUNT_LOCALE,
                opted_out=frozenset(outs.get(r.account_id, ())),
            )
            for r in rows
        }

    def holders(self, campaign_id: str, after_account: str, limit: int) -> list[Holder]:
        live = and_(
            grants.c.campaign_id == campaign_id,
            grants.c.state == GrantState.ISSUED.value,
            grants.c.expires_at_us > expiry.mark_of(campaign_id),  # not expired by a mark (ADR 36)
        )
        ids = list(
            self._conn.scalars(
                select(grants.c.account_id)
                .where(live, grants.c.account_id > after_account)
                .group_by(grants.c.account_id)
                .order_by(grants.c.account_id)
                .limit(limit)
            )
        )
        if not ids:
            return []
        held: dict[str, list[Grant]] = {}
        rows = self._conn.execute(
            select(grants)
            .where(live, grants.c.account_id.in_(ids))
            .order_by(grants.c.expires_at_us, grants.c.grant_id)
        )
        for row in rows:
            held.setdefault(row.account_id, []).append(grant_of(row, 0))  # live: no mark applies
        people = self.recipients(ids)
        return [Holder(people[a], held[a]) for a in ids if a in people]

    def expiring_holders(
        self, now_us: int, horizon_us: int, after_grant: str, limit: int
    ) -> list[tuple[Grant, Recipient]]:
        rows = list(
            self._conn.execute(
                expiry.GRANT_ROWS.where(
                    grants.c.state == GrantState.ISSUED.value,
                    grants.c.expires_at_us > now_us,
                    grants.c.expires_at_us > func.coalesce(expiry.MARK, 0),  # a mark ahead of now (ADR 36)
                    grants.c.expires_at_us <= now_us + horizon_us,
                    grants.c.grant_id > after_grant,
                )
                .order_by(grants.c.grant_id)
                .limit(limit)
            )
        )
        found = [grant_of(r) for r in rows]
        people = self.recipients(sorted({g.account_id for g in found}))
        return [(g, people[g.account_id]) for g in found if g.account_id in people]

    def history(
        self, account_ids: Sequence[str], *, every_state: bool = False
    ) -> dict[str, list[SentRecord]]:
        told: dict[str, list[SentRecord]] = {}
        if not account_ids:
            return told
        rows = self._conn.execute(
            select(
                m.c.account_id, m.c.channel, m.c.topic, m.c.purpose, m.c.sent_at_us, m.c.next_attempt_us
            ).where(
                m.c.account_id.in_(account_ids),
                m.c.state != MessageState.CANCELLED.value if every_state else m.c.state.in_(_TOLD),
            )
        )
        for r in rows:
            at = r.sent_at_us if r.sent_at_us is not None else r.next_attempt_us
            told.setdefault(r.account_id, []).append(
                SentRecord(Channel(r.channel), r.topic, Purpose(r.purpose), int(at))
            )
        return told

    def add_distribution(self, record: DistributionRecord) -> bool:
        return bool(self.add_distributions([record]))

    def add_distributions(self, records: Sequence[DistributionRecord]) -> set[str]:
        rows = [distribution_values(r) for r in records]
        return set(insert_new(self._conn, d, rows, ("distribution_id",), "distribution_id"))

    def get_distribution(
        self, distribution_id: str, *, for_update: bool = False
    ) -> DistributionRecord | None:
        query = select(d).where(d.c.distribution_id == distribution_id)
        row = self._conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else distribution_record(row)

    def set_distribution(
        self, distribution_id: str, state: DistributionState, recipients: int, now_us: int
    ) -> None:
        self._conn.execute(
            update(d)
            .where(d.c.distribution_id == distribution_id)
            .values(state=state.value, recipients=recipients, updated_at_us=now_us)
        )

    def add_messages(self, records: Sequence[MessageRecord]) -> int:
        rows = [message_values(r) for r in records]
        return len(
            insert_new(self._conn, m, rows, ("distribution_id", "account_id", "channel"), "message_id")
        )

    def release_due(self, now_us: int) -> int:
        return self._conn.execute(
            update(d)
            .where(d.c.state == DistributionState.HELD.value, d.c.hold_until_us <= now_us)
            .values(state=DistributionState.RELEASED.value, updated_at_us=now_us)
        ).rowcount

    def cancel_queued(self, distribution_id: str, now_us: int) -> int:
        return self._conn.execute(
            update(m)
            .where(m.c.distribution_id == distribution_id, m.c.state == MessageState.QUEUED.value)
            .values(state=MessageState.CANCELLED.value, reason="cancelled", updated_at_us=now_us)
        ).rowcount

    def _due(self, now_us: int, channels: Sequence[Channel]) -> Any:
        released = select(d.c.distribution_id).where(d.c.state == DistributionState.RELEASED.value)
        return and_(
            m.c.state == MessageState.QUEUED.value,
            m.c.next_attempt_us <= now_us,
            m.c.channel.in_([c.value for c in channels]),
            m.c.distribution_id.in_(released),
        )

    def due_count(self, now_us: int, channels: Sequence[Channel]) -> int:
        return int(
            self._conn.scalar(select(func.count()).select_from(m).where(self._due(now_us, channels))) or 0
        )

    def claim(
        self, now_us: int, channels: Sequence[Channel], limit: int, token: str, wall_us: int
    ) -> list[MessageRecord]:
        ids = list(
            self._conn.scalars(
                select(m.c.message_id)
                .where(self._due(now_us, channels))
                .order_by(m.c.next_attempt_us, m.c.message_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        self._conn.execute(
            update(m)
            .where(m.c.message_id.in_(ids), m.c.state == MessageState.QUEUED.value)
            .values(
                state=MessageState.SENDING.value,
                claim_token=token,
                claimed_at_us=wall_us,
                attempts=m.c.attempts + 1,
                updated_at_us=now_us,
            )
        )
        rows = self._conn.execute(
            select(m).where(m.c.message_id.in_(ids), m.c.claim_token == token).order_by(m.c.message_id)
        )
        return [message_record(r) for r in rows if r.state == MessageState.SENDING.value]

    def finish(self, message_id: str, token: str, finish: Finish, now_us: int) -> bool:
        values: dict[str, Any] = {
            "state": finish.state.value,
            "reason": finish.reason[:200],
            "provider_ref": finish.provider_ref[:128],
            "updated_at_us": now_us,
            "claim_token": "",
        }
        if finish.next_attempt_us is not None:
            values["next_attempt_us"] = finish.next_attempt_us
        if finish.sent_at_us is not None:
            values["sent_at_us"] = finish.sent_at_us
        if finish.title or finish.body:
            values |= {"title": finish.title, "body": finish.body}
        return bool(
            self._conn.execute(
                update(m).where(m.c.message_id == message_id, m.c.claim_token == token).values(**values)
            ).rowcount
        )

    def expire_claims(self, older_than_wall_us: int, now_us: int) -> int:
        stale = and_(m.c.state == MessageState.SENDING.value, m.c.claimed_at_us < older_than_wall_us)
        # An in-app message exists only once its answer is committed: nothing left, queue it again.
        self._conn.execute(
            update(m)
            .where(stale, m.c.channel == Channel.INAPP.value)
            .values(state=MessageState.QUEUED.value, claim_token="", updated_at_us=now_us)
        )
        return self._conn.execute(
            update(m)
            .where(stale)
            .values(
                state=MessageState.UNKNOWN.value,
                reason="no answer recorded: the worker stopped while sending",
                updated_at_us=now_us,
            )
        ).rowcount

    def counts(self, distribution_id: str) -> dict[MessageState, int]:
        rows = self._conn.execute(
            select(m.c.state, func.count()).where(m.c.distribution_id == distribution_id).group_by(m.c.state)
        )
        return {MessageState(state): int(n) for state, n in rows}

    def distributions(self, campaign_id: str, limit: int) -> list[DistributionRecord]:
        query = select(d).where(d.c.campaign_id == campaign_id, d.c.kind != "transactional")
        rows = self._conn.execute(query.order_by(d.c.created_at_us.desc(), d.c.distribution_id).limit(limit))
        return [distribution_record(r) for r in rows]

    def opened_after(self, distribution_id: str, campaign_id: str) -> int:
        reached = and_(
            grants.c.account_id == m.c.account_id,
            grants.c.campaign_id == campaign_id,
            grants.c.claimed_at_us >= m.c.sent_at_us,
        )
        query = (
            select(func.count(func.distinct(m.c.account_id)))
            .select_from(m.join(grants, reached))
            .where(m.c.distribution_id == distribution_id, m.c.state == MessageState.SENT.value)
        )
        return int(self._conn.execute(query).scalar_one())

    def inapp(self, account_id: str, limit: int) -> list[InappMessage]:
        rows = self._conn.execute(
            select(m.c.message_id, m.c.template, m.c.locale, m.c.title, m.c.body, m.c.sent_at_us)
            .where(
                m.c.account_id == account_id,
                m.c.channel == Channel.INAPP.value,
                m.c.state == MessageState.SENT.value,
            )
            .order_by(m.c.sent_at_us.desc(), m.c.message_id)
            .limit(limit)
        )
        return [
            InappMessage(r.message_id, r.template, r.locale, r.title, r.body, int(r.sent_at_us or 0))
            for r in rows
        ]

    def opt_out(self, message_id: str, now_us: int) -> MessageRecord | None:
        row = self._conn.execute(select(m).where(m.c.message_id == message_id)).first()
        if row is None:
            return None
        self._conn.execute(
            self._insert(o)
            .values(
                account_id=row.account_id,
                channel=row.channel,
                purpose=row.purpose,
                source=message_id,
                at_us=now_us,
            )
            .on_conflict_do_nothing(index_elements=["account_id", "channel", "purpose"])
        )
        return message_record(row)
