"""Domain events: what a use case changed, recorded on its unit of work (ADR 20).

A use case records an event next to the change it describes (``uow.record(event)``); the unit of
work writes every recorded event to one event log at commit, in the change's own transaction, so a
change that rolled back has no event and a committed one never lacks it. Consumers (webhooks; later
notifications and payouts) read what was recorded, never re-infer it from the rows.

Events of bulk work name the batch instead of listing its members: a run can issue millions of
grants, so issuance records one :class:`GrantsIssued` per ledger posting (the grants that name the
posting are its members) and expiry one :class:`GrantsExpired` per campaign and batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pledge.domain.campaign import CampaignState
from pledge.domain.compensation import CompensationItem
from pledge.domain.corrections import ClawbackCase
from pledge.domain.grant import Grant
from pledge.domain.subscriptions import Term


@dataclass(frozen=True, slots=True)
class GrantsIssued:
    """Grants were issued, all booked by the one issue posting ``posting_id``."""

    campaign_id: str
    posting_id: str
    count: int
    amount_minor: int
    currency: str
    at_us: int


@dataclass(frozen=True, slots=True)
class GrantClaimed:
    grant: Grant  # as claimed


@dataclass(frozen=True, slots=True)
class GrantRevoked:
    grant: Grant  # as revoked, with its reason


@dataclass(frozen=True, slots=True)
class GrantsExpired:
    """One campaign's share of one expiry batch: ``count`` grants worth ``amount_minor`` expired at
    ``at_us``; ``first_grant_id`` (the smallest id of the share) names the batch's ledger posting."""

    campaign_id: str
    currency: str
    count: int
    amount_minor: int
    first_grant_id: str
    at_us: int


@dataclass(frozen=True, slots=True)
class ClawbackOpened:
    case: ClawbackCase


@dataclass(frozen=True, slots=True)
class TermsDrafted:
    """A new terms version was added (and the campaign, if it was approved, went back to draft)."""

    campaign_id: str
    version: int
    content_hash: str
    author: str
    at_us: int


@dataclass(frozen=True, slots=True)
class TermsApproved:
    campaign_id: str
    version: int
    content_hash: str
    approver: str
    at_us: int


@dataclass(frozen=True, slots=True)
class CampaignStateChanged:
    campaign_id: str
    state: CampaignState
    at_us: int


@dataclass(frozen=True, slots=True)
class SubscriptionStarted:
    term: Term  # a first purchase or a repurchase: a new term that no renewal made


@dataclass(frozen=True, slots=True)
class SubscriptionRenewed:
    term: Term  # the new term the renewal created


@dataclass(frozen=True, slots=True)
class SubscriptionLapsed:
    term: Term  # the ended term, as lapsed


@dataclass(frozen=True, slots=True)
class SubscriptionExtended:
    term: Term  # as extended by a compensation


@dataclass(frozen=True, slots=True)
class CompensationApplied:
    item: CompensationItem
    approved_by: str
    applied_by: str
    at_us: int


@dataclass(frozen=True, slots=True)
class DistributionCreated:
    """``notify send``: a campaign's customers will be told, after the hold unless cancelled."""

    distribution_id: str
    campaign_id: str
    template: str
    channels: tuple[str, ...]
    recipients: int
    hold_until_us: int
    actor: str
    at_us: int


@dataclass(frozen=True, slots=True)
class DistributionCancelled:
    distribution_id: str
    cancelled_messages: int
    actor: str
    at_us: int


@dataclass(frozen=True, slots=True)
class GrantReinstated:
    grant: Grant  # as re-opened, with its new expiry
    reason: str
    actor: str


DomainEvent = (
    GrantsIssued
    | GrantClaimed
    | GrantRevoked
    | GrantsExpired
    | ClawbackOpened
    | TermsDrafted
    | TermsApproved
    | CampaignStateChanged
    | SubscriptionStarted
    | SubscriptionRenewed
    | SubscriptionLapsed
    | SubscriptionExtended
    | CompensationApplied
    | DistributionCreated
    | DistributionCancelled
    | GrantReinstated
)

# The events that change what ``campaign.updated`` shows of a campaign.
CAMPAIGN_EVENTS = (TermsDrafted, TermsApproved, CampaignStateChanged)


def event_type(event: DomainEvent) -> str:
    """The event's name in the log: its class name (``GrantClaimed``)."""
    return type(event).__name__


def event_data(event: DomainEvent) -> dict[str, Any]:
    """The event as plain JSON values (enums by value, nested records as objects)."""
    return {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
