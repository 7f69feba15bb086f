"""A unit of work that also writes webhook events and the audit entry, in the same transaction.

The use cases know nothing of webhooks or audit. They receive a unit-of-work
factory; the API hands them this one, whose repositories notice what changes
(a grant issued, claimed or expired; a campaign's terms or state) and whose
``commit`` adds the outbox events and the audit entry to the very transaction
that makes the change. So an event is never sent for a change that rolled
back, and a committed change never lacks its event or its audit entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine

from pledge.adapters.sqlalchemy.api_store import CallAudit, append_audit, campaign_snapshot, snapshot
from pledge.adapters.sqlalchemy.repositories import SqlCampaigns, SqlGrants
from pledge.adapters.sqlalchemy.uow import SqlUnitOfWork
from pledge.adapters.webhooks.store import Outbox
from pledge.domain.campaign import CampaignState, TermsVersion
from pledge.domain.grant import Grant, GrantState
from pledge.usecases.grants import grant_json
from pledge.usecases.ports import Clock

_GRANT_EVENTS = {GrantState.CLAIMED: "grant.claimed", GrantState.EXPIRED: "grant.expired"}


class _EventGrants(SqlGrants):
    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        super().__init__(conn)
        self._outbox = outbox

    def add_many(self, grants: Sequence[Grant], serials: Sequence[str]) -> None:
        super().add_many(grants, serials)
        # Written chunk by chunk, as the grants are, so a huge run never holds them all in memory.
        self._outbox.emit("grant.issued", (grant_json(g) for g in grants))

    def update(self, grant: Grant) -> None:
        super().update(grant)
        event = _GRANT_EVENTS.get(grant.state)
        if event:
            self._outbox.emit(event, [grant_json(grant)])


class _EventCampaigns(SqlCampaigns):
    """Remembers which campaigns changed; one campaign.updated each is written at commit."""

    def __init__(self, conn: Connection, touched: set[str]) -> None:
        super().__init__(conn)
        self._touched = touched

    def set_state(self, campaign_id: str, state: CampaignState) -> None:
        super().set_state(campaign_id, state)
        self._touched.add(campaign_id)

    def add_version(self, version: TermsVersion) -> None:
        super().add_version(version)
        self._touched.add(version.campaign_id)

    def approve(self, campaign_id: str, version: int, approver: str, at_us: int, content_hash: str) -> None:
        super().approve(campaign_id, version, approver, at_us, content_hash)
        self._touched.add(campaign_id)


class HookedUnitOfWork(SqlUnitOfWork):
    def __init__(self, engine: Engine, clock: Clock, audit: CallAudit | None) -> None:
        super().__init__(engine)
        self._clock = clock
        self._audit = audit
        self._touched: set[str] = set()
        self._outbox: Outbox | None = None

    def __enter__(self) -> HookedUnitOfWork:
        super().__enter__()
        conn = self._connection()
        self._outbox = Outbox(conn, self._clock.now_us(), time.time_ns() // 1_000)
        self.grants = _EventGrants(conn, self._outbox)
        self.campaigns = _EventCampaigns(conn, self._touched)
        return self

    def _connection(self) -> Connection:
        conn = self._conn
        assert conn is not None, "inside `with uow:`"
        return conn

    def commit(self) -> None:
        conn = self._connection()
        assert self._outbox is not None
        for campaign_id in sorted(self._touched):
            state = campaign_snapshot(conn, campaign_id)
            if state is not None:
                self._outbox.emit("campaign.updated", [state])
        self._touched.clear()
        audit = self._audit
        if audit is not None and not audit.written:
            # Audit times are wall-clock: --now moves business time, not when someone acted.
            append_audit(conn, audit.record(time.time_ns() // 1_000, snapshot(conn, audit.subject)))
        super().commit()
        if audit is not None:
            audit.written = True


def hooked_factory(engine: Engine, clock: Clock, audit: CallAudit | None) -> Callable[[], HookedUnitOfWork]:
    """A unit-of-work factory for the use cases; every unit it makes shares one audit entry."""

    def make() -> HookedUnitOfWork:
        return HookedUnitOfWork(engine, clock, audit)

    return make
