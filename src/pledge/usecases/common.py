"""Small helpers shared by the use cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pledge.domain.campaign import CashbackTerms, TermsVersion, parse_cashback_terms
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.domain.offers import OfferTermsVersion, parse_offer_terms
from pledge.domain.records import AccountRecord
from pledge.usecases.ports import CampaignRecord, RuleCompiler, UnitOfWork
from pledge.usecases.scan_ports import Selection

MAX_PAGE = 1_000
Row = TypeVar("Row")


def check_page_limit(limit: int) -> None:
    """A list's ``limit``: 1 to ``MAX_PAGE`` (bad input otherwise)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: must be between 1 and {MAX_PAGE}", param="limit")


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """One page of a list, oldest id first; ``has_more``: the next page starts after the last row."""

    rows: tuple[Row, ...]
    has_more: bool


def page_of(page: Sequence[Row], limit: int) -> Page[Row]:
    """The page of a read of ``limit + 1`` rows: the extra row says ``has_more``."""
    return Page(tuple(page[:limit]), len(page) > limit)


def campaign_not_found(campaign_id: str) -> NotFoundError:
    return NotFoundError(
        f"campaign {campaign_id} does not exist (apply its file first)",
        code="campaign_not_found",
        param="campaign",
    )


def require_campaign(uow: UnitOfWork, campaign_id: str, *, for_update: bool = False) -> CampaignRecord:
    record = uow.campaigns.get(campaign_id, for_update=for_update)
    if record is None:
        raise campaign_not_found(campaign_id)
    return record


def require_account(uow: UnitOfWork, account_id: str) -> AccountRecord:
    """The named account; an unknown one is the caller's mistake (CLI exit 2, HTTP 404)."""
    account, _ = uow.purchases.of_account(account_id)
    if account is None:
        raise NotFoundError(
            f"account {account_id} is not known; import it first", code="account_not_found", param="account"
        )
    return account


def latest_version(uow: UnitOfWork, campaign_id: str) -> TermsVersion:
    return latest_of(campaign_id, uow.campaigns.versions(campaign_id))


def latest_of(campaign_id: str, versions: Sequence[TermsVersion]) -> TermsVersion:
    if not versions:
        raise NotFoundError(f"campaign {campaign_id} has no terms", code="campaign_not_found")
    return versions[-1]


def effective_version(uow: UnitOfWork, campaign_id: str) -> TermsVersion:
    """The newest approved version: the one issuance follows."""
    return effective_of(campaign_id, uow.campaigns.versions(campaign_id))


def effective_of(campaign_id: str, versions: Sequence[TermsVersion]) -> TermsVersion:
    """The newest approved of ``versions`` (oldest first)."""
    for version in reversed(versions):
        if version.approved:
            return version
    raise RefusedError(f"campaign {campaign_id} has no approved terms version", code="not_approved")


def terms_of(version: TermsVersion) -> CashbackTerms:
    if version.document.get("kind") == "offer":
        raise RefusedError(
            f"campaign {version.campaign_id} is an offer campaign: use quote, subscriptions and compensate",
            code="offer_campaign",
        )
    return parse_cashback_terms(version.document)


def offer_versions(uow: UnitOfWork, campaign_id: str) -> list[OfferTermsVersion]:
    """An offer campaign's stored versions, with their approvals."""
    return [
        OfferTermsVersion(
            v.campaign_id,
            v.version,
            v.content_hash,
            parse_offer_terms(v.document),
            v.author,
            v.created_at_us,
            v.approved_by,
            v.approved_at_us,
            v.approved_hash,
        )
        for v in uow.campaigns.versions(campaign_id)
    ]


def selection_for(terms: CashbackTerms, rules: RuleCompiler) -> Selection:
    compiled = rules(terms.rule)
    return Selection(window=terms.window, conditions=tuple(compiled.rule.conditions), currency=terms.currency)
