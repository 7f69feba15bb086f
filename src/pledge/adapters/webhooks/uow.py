"""A unit of work that also writes webhook events and the audit entry, in the same transaction.

The use cases know nothing of webhooks or audit. They receive a unit-of-work
factory; the API hands them this one, whose repositories notice what changes
(a grant issued, claimed or expired; a campaign's terms or state; a
subscription renewed or lapsed; a compensation applied) and whose ``commit``
adds the outbox events and the audit entry to the very transaction that makes
the change. So an event is never sent for a change that rolled
back, and a committed change never lacks its event or its audit entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import islice

from sqlalchemy import Connection, Engine

from pledge.adapters.sqlalchemy.api_store import CallAudit, append_audit, campaign_snapshot
from pledge.adapters.sqlalchemy.billing import SqlSubscriptions
from pledge.adapters.sqlalchemy.repositories import SqlCampaigns, SqlGrants
from pledge.adapters.sqlalchemy.uow import SqlUnitOfWork
from pledge.adapters.webhooks.grant_events import emit_expired
from pledge.adapters.webhooks.store import Outbox
from pledge.adapters.webhooks.subjects import snapshot
from pledge.domain.campaign import CampaignState, TermsVersion
from pledge.domain.compensation import CompensationItem
from pledge.domain.grant import Grant, GrantState
from pledge.domain.subscriptions import Term, TermKind, TermState
from pledge.usecases.compensate import item_json
from pledge.usecases.grants import grant_json
from pledge.usecases.ports import CandidateTotals, Clock, ExpiredBatch, FreeGrants, PreparedCandidates
from pledge.usecases.subscriptions import term_json

# The audit subject of a purchase until the use case has created (and so named) its term.
NEW_TERM_SUBJECT = "subscription:new"

_GRANT_EVENTS = {
    GrantState.CLAIMED: "grant.claimed",
    GrantState.EXPIRED: "grant.expired",
    GrantState.REVOKED: "grant.revoked",
}


class _EventGrants(SqlGrants):
    def __init__(self, conn: Connection, outbox: Outbox) -> None:
        super().__init__(conn)
        self._outbox = outbox

    def add_many(self, grants: Sequence[Grant], serials: Sequence[str], *, posting_id: str) -> None:
        super().add_many(grants, serials, posting_id=posting_id)
        # Written chunk by chunk, as the grants are, so a huge run never holds them all in memory.
        self._outbox.emit("grant.issued", (grant_json(g) for g in grants))

    def add_free(self, prepared: PreparedCandidates, grants: FreeGrants) -> CandidateTotals:
        written = super().add_free(prepared, grants)
        if self._outbox.listens("grant.issued"):  # read back in chunks: never all in memory
            issued = self.of_posting(grants.campaign_id, grants.posting_id)
            while chunk := [grant_json(g) for g in islice(issued, 10_000)]:
                self._outbox.emit("grant.issued", chunk)
        return written

    def expire_due(self, now_us: int, limit: int, after: str) -> ExpiredBatch:
        # One grant.expired per grant, written with its batch by one statement (if someone listens).
        if not self._outbox.listens("grant.expired"):
            return super().expire_due(now_us, limit, after)
        batch, expired = self.expire_due_staged(now_us, limit, after)
        emit_expired(self._conn, self._outbox, expired)
        return batch

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


class _EventSubscriptions(SqlSubscriptions):
    """subscription.renewed (the new term), subscription.lapsed (the ended term), compensation.applied.

    Renewal terms are only ever created by a renewal, and only a lapse moves a
    term to ``lapsed``; a compensation is recorded once per term (its primary
    key), so each event is written exactly once, with the change.
    """

    def __init__(self, conn: Connection, outbox: Outbox, added: list[str]) -> None:
        super().__init__(conn)
        self._outbox = outbox
        self._added = added

    def add(self, term: Term, catalog_version: int, now_us: int) -> bool:
        added = super().add(term, catalog_version, now_us)
        if added:
            self._added.append(term.id)
            if term.kind is TermKind.RENEWAL:
                self._outbox.emit("subscription.renewed", [term_json(term)])
        return added

    def update(self, term: Term) -> None:
        super().update(term)
        if term.state is TermState.LAPSED:
            self._outbox.emit("subscription.lapsed", [term_json(term)])

    def record_compensation(
        self, item: CompensationItem, approved_by: str, applied_by: str, at_us: int
    ) -> None:
        super().record_compensation(item, approved_by, applied_by, at_us)
        self._outbox.emit(
            "compensation.applied",
            [
                {
                    "object": "compensation",
                    **item_json(item),
                    "approved_by": approved_by,
                    "applied_by": applied_by,
                }
            ],
        )


class HookedUnitOfWork(SqlUnitOfWork):
    def __init__(self, engine: Engine, clock: Clock, audit: CallAudit | None) -> None:
        super().__init__(engine)
        self._clock = clock
        self._audit = audit
        self._touched: set[str] = set()
        self._added_terms: list[str] = []
        self._outbox: Outbox | None = None

    def __enter__(self) -> HookedUnitOfWork:
        super().__enter__()
        conn = self._connection()
        self._outbox = Outbox(conn, self._clock.now_us(), time.time_ns() // 1_000)
        self.grants = _EventGrants(conn, self._outbox)
        self.campaigns = _EventCampaigns(conn, self._touched)
        self.subscriptions = _EventSubscriptions(conn, self._outbox, self._added_terms)
        return self

    def _connection(self) -> Connection:
        conn = self._conn
        assert conn is not None, "inside `with uow:`"
        return conn

    def commit(self) -> None:
        conn = self._connection()
        assert self._outbox is not None
        self.grants.flush_added()  # the snapshots below read the grants
        for campaign_id in sorted(self._touched):
            state = campaign_snapshot(conn, campaign_id)
            if state is not None:
                self._outbox.emit("campaign.updated", [state])
        self._touched.clear()
        audit = self._audit
        if audit is not None and not audit.written:
            self._name_new_terms(audit)
            # Audit times are wall-clock: --now moves business time, not when someone acted.
            append_audit(conn, audit.record(time.time_ns() // 1_000, snapshot(conn, audit.subject)))
        self._added_terms.clear()
        super().commit()
        if audit is not None:
            audit.written = True

    def _name_new_terms(self, audit: CallAudit) -> None:
        """A purchase is audited under the term it created; a repurchase also names the new term."""
        if not self._added_terms or not audit.subject.startswith("subscription:"):
            return
        if audit.subject == NEW_TERM_SUBJECT:
            audit.subject = f"subscription:{self._added_terms[0]}"
        else:
            audit.extra_after["created_terms"] = list(self._added_terms)


def hooked_factory(engine: Engine, clock: Clock, audit: CallAudit | None) -> Callable[[], HookedUnitOfWork]:
    """A unit-of-work factory for the use cases; every unit it makes shares one audit entry."""

    def make() -> HookedUnitOfWork:
        return HookedUnitOfWork(engine, clock, audit)

    return make
