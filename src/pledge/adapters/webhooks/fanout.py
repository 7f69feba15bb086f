"""Webhook events for the domain events a unit of work commits (ADR 20).

Fan-out at commit: the unit of work hands its recorded events here before it writes them to the
event log, and the webhook events (with one pending delivery per listening endpoint) are written in
that same transaction. Nothing is built for an event type no enabled endpoint listens for.

Bulk events name their batch; their members are read back here, in chunks, only if someone
listens: a ``GrantsIssued`` reads the grants of its posting, and the ``GrantsExpired`` of a batch
are written by one ``INSERT … SELECT`` over the batch the grants repository kept nameable.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection

from pledge.adapters.sqlalchemy.api_store import campaign_snapshot
from pledge.adapters.sqlalchemy.repositories import SqlGrants
from pledge.adapters.webhooks.grant_events import emit_expired
from pledge.adapters.webhooks.store import Outbox
from pledge.domain.events import (
    CAMPAIGN_EVENTS,
    CompensationApplied,
    DomainEvent,
    GrantClaimed,
    GrantRevoked,
    GrantsExpired,
    GrantsIssued,
    SubscriptionLapsed,
    SubscriptionRenewed,
)
from pledge.usecases.compensate import item_json
from pledge.usecases.grants import grant_json
from pledge.usecases.subscriptions import term_json

READ_CHUNK = 10_000  # grants read back at a time: a run's grants are never all in memory


def compensation_json(event: CompensationApplied) -> dict[str, Any]:
    return {
        "object": "compensation",
        **item_json(event.item),
        "approved_by": event.approved_by,
        "applied_by": event.applied_by,
    }


def fan_out(conn: Connection, grants: SqlGrants, outbox: Outbox, events: Sequence[DomainEvent]) -> None:
    """Write the webhook events of ``events``, in the order recorded (campaigns last, once each)."""
    expired_written = False
    campaigns: set[str] = set()
    for event in events:
        if isinstance(event, GrantsIssued):
            _issued(grants, outbox, event)
        elif isinstance(event, GrantClaimed):
            outbox.emit("grant.claimed", [grant_json(event.grant)])
        elif isinstance(event, GrantRevoked):
            outbox.emit("grant.revoked", [grant_json(event.grant)])
        elif isinstance(event, GrantsExpired):
            # One batch per unit of work; its events are written at once for all its campaigns.
            if not expired_written and grants.expired_batch is not None:
                emit_expired(conn, outbox, grants.expired_batch)
                expired_written = True
        elif isinstance(event, SubscriptionRenewed):
            outbox.emit("subscription.renewed", [term_json(event.term)])
        elif isinstance(event, SubscriptionLapsed):
            outbox.emit("subscription.lapsed", [term_json(event.term)])
        elif isinstance(event, CompensationApplied):
            outbox.emit("compensation.applied", [compensation_json(event)])
        elif isinstance(event, CAMPAIGN_EVENTS):
            campaigns.add(event.campaign_id)
    for campaign_id in sorted(campaigns):  # the state as committed, once per campaign
        state = campaign_snapshot(conn, campaign_id)
        if state is not None:
            outbox.emit("campaign.updated", [state])


def _issued(grants: SqlGrants, outbox: Outbox, event: GrantsIssued) -> None:
    if not outbox.listens("grant.issued"):
        return
    issued = grants.of_posting(event.campaign_id, event.posting_id)
    while chunk := [grant_json(g) for g in islice(issued, READ_CHUNK)]:
        outbox.emit("grant.issued", chunk)
