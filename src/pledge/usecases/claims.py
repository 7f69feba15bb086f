"""Claims for purchases missing from the records: submit, list, decide (ADR 28).

A claim is checked when it arrives (:mod:`pledge.usecases.claim_checks`): a failing check
rejects it at once (``decided_by: "system"``), otherwise it waits for review with its risk
flags. An approval makes the claim a purchase (channel ``claim``) and runs the campaign: the
same rule, limits, budget and ledger as every other grant, no second issuing path. One serial
is paid once: the approval re-checks every grant on it, and the database holds at most one
approved claim per serial.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pledge.domain.campaign import CampaignState, CashbackTerms
from pledge.domain.claims import (
    MAX_EVIDENCE_FILES,
    SYSTEM,
    Claim,
    ClaimState,
    ClaimTerms,
    check_decider,
    hard_failures,
    reason_code,
)
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.domain.fields import money_field
from pledge.domain.grant import Grant
from pledge.domain.money import format_minor
from pledge.domain.timeutil import format_instant, local_date, parse_instant
from pledge.usecases.claim_checks import Claimed, claim_checks, claim_flags, serial_paid
from pledge.usecases.claim_ports import EvidenceProcessor, EvidenceStore, PreparedEvidence
from pledge.usecases.common import (
    Page,
    check_page_limit,
    effective_version,
    page_of,
    require_account,
    require_campaign,
    terms_of,
)
from pledge.usecases.issue import run_campaign
from pledge.usecases.notify_transactional import tell_account
from pledge.usecases.ports import Clock, RuleCompiler, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    campaign_id: str
    account_id: str
    serial: str
    purchased_at: str  # ISO 8601 with offset
    price: str  # decimal string in the campaign's currency
    evidence: Sequence[tuple[str, bytes]] = ()  # (file name, content)


@dataclass(frozen=True, slots=True)
class OpenCampaign:
    """A campaign a customer may claim under today."""

    campaign_id: str
    name: str
    currency: str
    timezone: str


@dataclass(frozen=True, slots=True)
class ClaimDecision:
    """A decided claim; an approved one with the grant its campaign's run gave it (None: recorded,
    but a limit or the budget left it no envelope)."""

    claim: Claim
    grant: Grant | None = None


class ClaimDesk:
    """Claims, wired to their stores, the rule compiler, the clock and the evidence handling."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        rules: RuleCompiler,
        clock: Clock,
        processor: EvidenceProcessor,
        store: EvidenceStore,
    ) -> None:
        self.uow_factory, self.rules, self.clock = uow_factory, rules, clock
        self.processor, self.store = processor, store

    def submit(self, request: ClaimRequest, actor: str) -> Claim:
        serial = request.serial.strip()
        if not serial or len(serial) > 128 or not serial.isprintable():
            raise InputError("serial: 1 to 128 printable characters are required", param="serial")
        purchased_at_us = parse_instant(request.purchased_at, param="purchased_at")
        if purchased_at_us > self.clock.now_us():
            raise InputError("purchased_at: is in the future", param="purchased_at", code="invalid_instant")
        if len(request.evidence) > MAX_EVIDENCE_FILES:
            raise InputError(
                f"evidence: at most {MAX_EVIDENCE_FILES} files per claim",
                param="evidence",
                code="too_many_files",
            )
        # Every file is checked before anything is stored: one bad file refuses the claim whole.
        prepared = [self.processor.prepare(name, data) for name, data in request.evidence]
        now = self.clock.now_us()
        with self.uow_factory() as uow:
            require_campaign(uow, request.campaign_id)
            terms, claims = _claim_terms(uow, request.campaign_id)
            price = money_field(request.price, terms.currency, "price")
            claimed = Claimed(
                _new_id(),
                require_account(uow, request.account_id),
                serial,
                purchased_at_us,
                price,
                tuple(p.ref for p in prepared),
            )
            amount = terms.benefit.amount_minor(price, purchased_at_us)
            checks, register = claim_checks(uow, terms, claims, self.rules(terms.rule), claimed, now)
            flags = claim_flags(uow, terms, claims, claimed, amount, now, register)
            failed = hard_failures(checks)
            claim = Claim(
                claimed.claim_id,
                terms.campaign_id,
                claimed.account.account_id,
                serial,
                purchased_at_us,
                price,
                terms.currency,
                amount,
                ClaimState.REJECTED if failed else ClaimState.PENDING,
                tuple(checks),
                tuple(flags),
                actor,
                now,
                evidence=tuple(claimed.evidence),
                decided_by=SYSTEM if failed else "",
                decided_at_us=now if failed else None,
                reason=",".join(c.name for c in failed),
                sku=register.sku if register else "",
            )
            uow.claims.add(claim)
            if failed:
                _tell(uow, claim, terms.name, "rejected", 0, now)
            _keep(self.store, prepared)
            uow.commit()
        return claim

    def list(
        self,
        *,
        campaign_id: str | None = None,
        state: str | None = None,
        starting_after: str | None = None,
        limit: int = 100,
        account_id: str | None = None,
    ) -> Page[Claim]:
        """The review queue, oldest first; ``account_id``: one customer's own claims."""
        check_page_limit(limit)
        wanted = _state(state)
        with self.uow_factory() as uow:
            page = uow.claims.page(
                campaign_id=campaign_id,
                state=wanted,
                starting_after=starting_after,
                limit=limit + 1,
                account_id=account_id,
            )
        return page_of(page, limit)

    def open_campaigns(self) -> tuple[OpenCampaign, ...]:
        """The active campaigns taking claims today (their own local date), for a claim form."""
        now = self.clock.now_us()
        out = []
        with self.uow_factory() as uow:
            for record in sorted(uow.campaigns.all(), key=lambda r: r.campaign_id):
                if record.kind != "cashback" or record.state is not CampaignState.ACTIVE:
                    continue
                terms = terms_of(effective_version(uow, record.campaign_id))
                if terms.claims is not None and local_date(now, terms.window.tz) <= terms.claims.open_until:
                    out.append(OpenCampaign(record.campaign_id, terms.name, terms.currency, terms.timezone))
        return tuple(out)

    def get(self, claim_id: str, *, account_id: str | None = None) -> Claim:
        """One claim; ``account_id``: as that customer sees it (another account's claim does not exist)."""
        with self.uow_factory() as uow:
            return _visible(uow, claim_id, account_id)

    def evidence(self, claim_id: str, sha256: str, *, account_id: str | None = None) -> tuple[str, bytes]:
        """One evidence file of a claim, ``(kind, content)``, for a reviewer or (``account_id``) the
        claim's owner only. A file is reached through a claim that holds it, never by its hash alone,
        so nobody can fetch another account's receipt by guessing or reusing a hash."""
        with self.uow_factory() as uow:
            claim = _visible(uow, claim_id, account_id)
        ref = next((e for e in claim.evidence if e.sha256 == sha256), None)
        content = None if ref is None else self.store.open(sha256)
        if ref is None or content is None:
            raise NotFoundError(
                f"claim {claim_id} has no evidence {sha256}", code="evidence_not_found", param="evidence"
            )
        return ref.kind, content

    def decide(self, claim_id: str, *, approve: bool, reason: str, actor: str) -> ClaimDecision:
        code = reason_code(reason)
        now = self.clock.now_us()
        with self.uow_factory() as uow:
            claim = _require(uow, claim_id, for_update=True)
            terms, claims = _claim_terms(uow, claim.campaign_id)
            complete = check_decider(claim, actor, approve, claims.review_above_minor)
            if not approve:
                decided = dataclasses.replace(
                    claim, state=ClaimState.REJECTED, decided_by=actor, decided_at_us=now, reason=code
                )
                _tell(uow, decided, terms.name, "rejected", 0, now)
            elif not complete:  # the first of two approvers above ``review_above``
                decided = dataclasses.replace(claim, approvals=(*claim.approvals, actor))
            else:
                decided = _approve(uow, claim, terms, actor, code, now)
            uow.claims.update(decided)
            uow.commit()
        if decided.state is ClaimState.APPROVED:
            return self._issue(decided, actor)
        return ClaimDecision(decided)

    def _issue(self, claim: Claim, actor: str) -> ClaimDecision:
        """Run the campaign, which grants the claim's purchase like any other, and note the grant."""
        run_campaign(self.uow_factory, self.rules, self.clock, claim.campaign_id, actor)
        with self.uow_factory() as uow:
            grant = uow.grants.for_purchases(claim.campaign_id, [claim.purchase_id]).get(claim.purchase_id)
            current = _require(uow, claim.id, for_update=True)
            if grant is not None and not current.grant_id:
                current = dataclasses.replace(current, grant_id=grant.id)
                uow.claims.update(current)
            name = terms_of(effective_version(uow, claim.campaign_id)).name
            if grant is None:  # on record, but a limit or the budget leaves it no envelope
                _tell(uow, current, name, "recorded", 0, self.clock.now_us())
            else:
                _tell(uow, current, name, "approved", grant.amount_minor, self.clock.now_us())
            uow.commit()
        return ClaimDecision(current, grant)


def _approve(uow: UnitOfWork, claim: Claim, terms: CashbackTerms, actor: str, code: str, now: int) -> Claim:
    """The approved claim, its purchase added (the run that follows grants it)."""
    record = require_campaign(uow, claim.campaign_id)
    if record.state is not CampaignState.ACTIVE:
        raise RefusedError(
            f"campaign {claim.campaign_id} is {record.state.value}; claims are approved while it is active",
            code="not_active",
        )
    paid = serial_paid(uow, claim.serial, but=claim.id)
    if not paid.passed:
        raise RefusedError(f"claim {claim.id}: {paid.detail}; nothing approved", code="serial_paid")
    account = require_account(uow, claim.account_id)
    purchase = Claimed(
        claim.id, account, claim.serial, claim.purchased_at_us, claim.price_minor, ()
    ).purchase(terms, uow.serials.get(claim.serial))
    uow.purchases.add_purchases([purchase], update=False)
    return dataclasses.replace(
        claim,
        state=ClaimState.APPROVED,
        approvals=(*claim.approvals, actor),
        decided_by=actor,
        decided_at_us=now,
        reason=code,
    )


def _claim_terms(uow: UnitOfWork, campaign_id: str) -> tuple[CashbackTerms, ClaimTerms]:
    terms = terms_of(effective_version(uow, campaign_id))
    if terms.claims is None:
        raise RefusedError(
            f"campaign {campaign_id} takes no claims (its file has no claims: block)", code="claims_not_taken"
        )
    return terms, terms.claims


def _require(uow: UnitOfWork, claim_id: str, *, for_update: bool = False) -> Claim:
    claim = uow.claims.get(claim_id, for_update=for_update)
    if claim is None:
        raise NotFoundError(f"claim {claim_id} does not exist", code="claim_not_found", param="claim")
    return claim


def _visible(uow: UnitOfWork, claim_id: str, account_id: str | None) -> Claim:
    claim = _require(uow, claim_id)
    if account_id is not None and claim.account_id != account_id:
        raise NotFoundError(f"claim {claim_id} does not exist", code="claim_not_found", param="claim")
    return claim


def _state(state: str | None) -> ClaimState | None:
    if state is None:
        return None
    try:
        return ClaimState(state)
    except ValueError:
        raise InputError(
            f"state: {state!r} is not one of {', '.join(s.value for s in ClaimState)}", param="state"
        ) from None


def _tell(uow: UnitOfWork, claim: Claim, campaign_name: str, decision: str, amount: int, now: int) -> None:
    """The customer hears of the decision (``claim_decided``), once per claim, with the change."""
    params = {
        "campaign_name": campaign_name,
        "claim_id": claim.id,
        "decision": decision,
        "amount_minor": amount,
        "currency": claim.currency,
    }
    tell_account(uow, "claim_decided", claim.campaign_id, claim.account_id, claim.id, params, now)


def _keep(store: EvidenceStore, prepared: Sequence[PreparedEvidence]) -> None:
    for evidence in prepared:
        store.put(evidence)


def _new_id() -> str:
    return "clm_" + secrets.token_hex(10)


def claim_json(claim: Claim) -> dict[str, Any]:
    """A claim as the API, the CLI and the audit log's before and after show it."""
    money = claim.currency
    return {
        "id": claim.id,
        "object": "claim",
        "campaign": claim.campaign_id,
        "account_id": claim.account_id,
        "serial": claim.serial,
        "sku": claim.sku,
        "purchased_at": format_instant(claim.purchased_at_us),
        "price": format_minor(claim.price_minor, money),
        "amount": format_minor(claim.amount_minor, money),
        "currency": money,
        "state": claim.state.value,
        "checks": [c.as_json() for c in claim.checks],
        "flags": [f.as_json() for f in claim.flags],
        "evidence": [{"sha256": e.sha256, "kind": e.kind, "size": e.size} for e in claim.evidence],
        "submitted_by": claim.submitted_by,
        "submitted_at": format_instant(claim.submitted_at_us),
        "approvals": list(claim.approvals),
        "decided_by": claim.decided_by or None,
        "decided_at": None if claim.decided_at_us is None else format_instant(claim.decided_at_us),
        "reason": claim.reason or None,
        "grant_id": claim.grant_id or None,
    }
