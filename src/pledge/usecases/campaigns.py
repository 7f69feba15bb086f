"""Apply, approve and launch cashback campaigns (four-eyes, bound to content hashes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pledge.domain.campaign import (
    DEFAULT_GROUP,
    CampaignState,
    Stacking,
    TermsVersion,
    check_approval,
    check_transition,
    parse_cashback_terms,
)
from pledge.domain.errors import RefusedError
from pledge.domain.events import CampaignStateChanged, TermsApproved, TermsDrafted
from pledge.domain.ledger import Transfer, budget_account, funding_account
from pledge.domain.offers import check_against_catalog, parse_offer_terms
from pledge.usecases.catalog import current_catalog
from pledge.usecases.common import latest_version, require_campaign, selection_for, terms_of
from pledge.usecases.ports import Budget, CampaignRecord, Clock, RuleCompiler, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.shortfall import Shortfall, check_shortfall, shortfall
from pledge.usecases.simulate import blocking_problems


@dataclass(frozen=True, slots=True)
class AppliedTerms:
    """The campaign's latest terms version after an apply; ``changed`` when the apply added it."""

    campaign_id: str
    version: int
    changed: bool
    content_hash: str


@dataclass(frozen=True, slots=True)
class ApprovedTerms:
    """The approved version and the campaign's state after it; ``group`` and ``stacking`` only for
    cashback terms (an offer has neither)."""

    campaign_id: str
    version: int
    approved_by: str
    content_hash: str
    state: CampaignState
    group: str | None = None
    stacking: Stacking | None = None


@dataclass(frozen=True, slots=True)
class LaunchedCampaign:
    """An active campaign, and the shortfall its launch accepted (``None`` when the budget pays all)."""

    campaign_id: str
    state: CampaignState
    version: int
    currency: str
    accepted_shortfall: Shortfall | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """A campaign paused, resumed or closed."""

    campaign_id: str
    state: CampaignState


def apply_campaign(
    uow_factory: UnitOfWorkFactory, rules: RuleCompiler, clock: Clock, document: Mapping[str, Any], actor: str
) -> AppliedTerms:
    """Create a campaign, add a terms version if the terms changed, or do nothing."""
    now = clock.now_us()
    if document.get("kind") == "offer":
        offer = parse_offer_terms(document)
        with uow_factory() as uow:
            check_against_catalog(offer, current_catalog(uow).catalog)
        return _store_version(
            uow_factory,
            offer.campaign_id,
            "offer",
            offer.currency,
            offer.content_hash,
            offer.canonical(),
            actor,
            now,
        )
    terms = parse_cashback_terms(document)
    rules(terms.rule)  # type-checked against the schema now, never at run time
    return _store_version(
        uow_factory,
        terms.campaign_id,
        "cashback",
        terms.currency,
        terms.content_hash,
        terms.canonical(),
        actor,
        now,
        terms.group,
    )


def _store_version(
    uow_factory: UnitOfWorkFactory,
    campaign_id: str,
    kind: str,
    currency: str,
    content_hash: str,
    document: Mapping[str, Any],
    actor: str,
    now: int,
    group: str = DEFAULT_GROUP,
) -> AppliedTerms:
    with uow_factory() as uow:
        record = uow.campaigns.get(campaign_id, for_update=True)
        if record is None:
            uow.campaigns.add(CampaignRecord(campaign_id, kind, CampaignState.DRAFT, currency, now, 0, group))
            versions: list[TermsVersion] = []
        else:
            if record.kind != kind:
                raise RefusedError(
                    f"campaign {campaign_id} is a {record.kind} campaign, not {kind}",
                    code="kind_locked",
                    param="kind",
                )
            versions = uow.campaigns.versions(campaign_id)
            if versions and versions[-1].content_hash == content_hash:
                return AppliedTerms(campaign_id, versions[-1].version, False, content_hash)
            if record.currency != currency:
                # Budgets, grants and the ledger are kept in one currency for a campaign's life.
                raise RefusedError(
                    f"campaign {campaign_id} is in {record.currency}; a campaign's currency cannot "
                    "change (create a new campaign id)",
                    code="currency_locked",
                    param="currency",
                )
            if record.state is CampaignState.APPROVED:
                # Approval was for the old terms: the new ones need their own.
                uow.campaigns.set_state(campaign_id, CampaignState.DRAFT)
                uow.record(CampaignStateChanged(campaign_id, CampaignState.DRAFT, now))
            if not any(v.approved for v in versions):
                # Nothing approved, nothing paid: the draft's group is the campaign's group. Once a
                # version is approved, only the next approval moves the campaign to another group.
                uow.campaigns.set_group(campaign_id, group)
        number = versions[-1].version + 1 if versions else 1
        uow.campaigns.add_version(TermsVersion(campaign_id, number, content_hash, document, actor, now))
        uow.record(TermsDrafted(campaign_id, number, content_hash, actor, now))
        uow.campaigns.record_event(
            campaign_id, "terms_applied", actor, now, {"version": number, "content_hash": content_hash}
        )
        uow.commit()
    return AppliedTerms(campaign_id, number, True, content_hash)


def approve_campaign(
    uow_factory: UnitOfWorkFactory,
    rules: RuleCompiler,
    clock: Clock,
    campaign_id: str,
    actor: str,
    expected_hash: str | None = None,
) -> ApprovedTerms:
    """Approve the latest terms version; never by its author; bound to its content hash.

    Terms with blocking problems (a fixed amount above the price paid, another
    currency) are refused here already, not only at launch: an approval is a
    signature, and nobody should be able to sign terms that can never be paid.
    """
    now = clock.now_us()
    with uow_factory() as uow:
        record = require_campaign(uow, campaign_id, for_update=True)
        version = latest_version(uow, campaign_id)
        if expected_hash is not None and expected_hash != version.content_hash:
            raise RefusedError(
                f"campaign {campaign_id} version {version.version} is {version.content_hash}, "
                f"not the {expected_hash} you reviewed",
                code="terms_changed",
            )
        check_approval(version, actor)
        if record.kind == "cashback":
            _refuse_blocking(uow, rules, version)
        uow.campaigns.approve(campaign_id, version.version, actor, now, version.content_hash)
        uow.record(TermsApproved(campaign_id, version.version, version.content_hash, actor, now))
        terms = terms_of(version) if record.kind == "cashback" else None
        if terms is not None:
            uow.campaigns.set_group(campaign_id, terms.group)
        if record.state is CampaignState.DRAFT:
            uow.campaigns.set_state(campaign_id, CampaignState.APPROVED)
            uow.record(CampaignStateChanged(campaign_id, CampaignState.APPROVED, now))
        uow.campaigns.record_event(
            campaign_id,
            "terms_approved",
            actor,
            now,
            {"version": version.version, "content_hash": version.content_hash},
        )
        uow.commit()
        state = CampaignState.APPROVED if record.state is CampaignState.DRAFT else record.state
    return ApprovedTerms(
        campaign_id,
        version.version,
        actor,
        version.content_hash,
        state,
        terms.group if terms is not None else None,
        terms.stacking if terms is not None else None,
    )


def _refuse_blocking(uow: UnitOfWork, rules: RuleCompiler, version: TermsVersion) -> None:
    """A refusal (code ``blocking_problems``) naming every blocking problem of the version, if any."""
    terms = terms_of(version)
    problems = blocking_problems(uow, terms, selection_for(terms, rules))
    if problems:
        listed = "; ".join(f"{p.code}: {p.message}" for p in problems)
        raise RefusedError(
            f"campaign {version.campaign_id} version {version.version} cannot be approved: {listed}",
            code="blocking_problems",
        )


def launch_campaign(
    uow_factory: UnitOfWorkFactory,
    rules: RuleCompiler,
    clock: Clock,
    campaign_id: str,
    actor: str,
    accept_shortfall: int | None = None,
) -> LaunchedCampaign:
    """Activate an approved campaign and fund its budget; refused while blocking problems exist.

    A budget that cannot pay every qualifying purchase is refused too (``budget_shortfall``) unless
    ``accept_shortfall`` is exactly the number the dry run leaves unpaid: the acknowledgement is
    recorded in the campaign's history with the amount missing.
    """
    now = clock.now_us()
    with uow_factory() as uow:
        record = require_campaign(uow, campaign_id, for_update=True)
        version = latest_version(uow, campaign_id)
        if not version.approved:
            raise RefusedError(
                f"campaign {campaign_id} version {version.version} is not approved "
                "(approval needs someone other than its author)",
                code="not_approved",
            )
        check_transition(campaign_id, record.state, CampaignState.ACTIVE)
        if record.kind == "offer":
            # An offer has no budget to fund: its versions price purchases from their effective instant.
            uow.campaigns.set_state(campaign_id, CampaignState.ACTIVE)
            uow.record(CampaignStateChanged(campaign_id, CampaignState.ACTIVE, now))
            uow.campaigns.record_event(campaign_id, "launched", actor, now, {"version": version.version})
            uow.commit()
            return LaunchedCampaign(campaign_id, CampaignState.ACTIVE, version.version, record.currency)
        terms = terms_of(version)
        selection = selection_for(terms, rules)
        counts = uow.purchases.scan(selection)
        problems = blocking_problems(uow, terms, selection, counts)
        if problems:
            raise RefusedError(
                f"campaign {campaign_id} cannot launch: {problems[0].message}", code=problems[0].code
            )
        launched: dict[str, Any] = {"version": version.version}
        short = shortfall(uow, terms, selection, counts.qualifying)
        check_shortfall(terms, short, accept_shortfall)
        if short.purchases:
            launched["accepted_shortfall"] = short.as_json(terms.currency)
        uow.budgets.create(Budget(campaign_id, terms.currency, terms.budget_minor, terms.budget_minor))
        uow.ledger.append(
            [
                Transfer(
                    f"fund:{campaign_id}:v{version.version}",
                    funding_account(campaign_id),
                    budget_account(campaign_id),
                    terms.currency,
                    terms.budget_minor,
                    "fund",
                    campaign_id,
                    now,
                )
            ]
        )
        uow.campaigns.set_state(campaign_id, CampaignState.ACTIVE)
        uow.record(CampaignStateChanged(campaign_id, CampaignState.ACTIVE, now))
        uow.campaigns.record_event(campaign_id, "launched", actor, now, launched)
        uow.commit()
    return LaunchedCampaign(
        campaign_id, CampaignState.ACTIVE, version.version, terms.currency, short if short.purchases else None
    )


def set_campaign_state(
    uow_factory: UnitOfWorkFactory, clock: Clock, campaign_id: str, target: CampaignState, actor: str
) -> StateChange:
    """Pause, resume or close."""
    now = clock.now_us()
    with uow_factory() as uow:
        record = require_campaign(uow, campaign_id, for_update=True)
        check_transition(campaign_id, record.state, target)
        uow.campaigns.set_state(campaign_id, target)
        uow.record(CampaignStateChanged(campaign_id, target, now))
        uow.campaigns.record_event(
            campaign_id, f"state_{target.value}", actor, now, {"from": record.state.value}
        )
        uow.commit()
    return StateChange(campaign_id, target)
