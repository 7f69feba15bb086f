"""Corrections (ADR 14): a grant whose purchase stops qualifying is revoked, or becomes a claw-back.

An import with ``--update`` hands every batch's *changed* ids to :class:`GrantCorrections`
(only rows whose content differs; fresh rows and identical re-imports never get here). It finds
the live grants those rows carry by primary key (a grant id derives from campaign and purchase),
re-evaluates each purchase in-process against the terms version the grant was issued under, and,
in the import's own transaction, revokes an unopened grant (value back to the budget) or opens a
claw-back case for an opened one. Support revokes one unopened grant with ``revoke_grant``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pledge.domain.benefit import within_price
from pledge.domain.campaign import CashbackTerms
from pledge.domain.corrections import MAX_REASON, ClawbackCase, ClawbackState, correction_reason
from pledge.domain.errors import InputError, InvariantViolation, NotFoundError
from pledge.domain.events import ClawbackOpened, GrantRevoked
from pledge.domain.grant import OPENED_STATES, Grant, GrantState
from pledge.domain.ledger import (
    ChainVerifier,
    Transfer,
    budget_account,
    clawbacks_account,
    customer_owes_account,
    grants_account,
)
from pledge.domain.money import format_minor
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules.schema import values_of
from pledge.domain.timeutil import format_instant
from pledge.usecases.common import Page, check_page_limit, page_of, terms_of
from pledge.usecases.ports import Clock, CompiledRule, RuleCompiler, UnitOfWork, UnitOfWorkFactory

_OPENED = tuple(OPENED_STATES)
_LIVE = (GrantState.ISSUED, *_OPENED)


def clawback_json(case: ClawbackCase) -> dict[str, Any]:
    return {
        "id": case.id,
        "object": "clawback",
        "grant_id": case.grant_id,
        "campaign": case.campaign_id,
        "account_id": case.account_id,
        "purchase_id": case.purchase_id,
        "amount": format_minor(case.amount_minor, case.currency),
        "currency": case.currency,
        "reason": case.reason,
        "state": case.state.value,
        "created_at": format_instant(case.created_at_us),
    }


def book_revocation(uow: UnitOfWork, before: Grant, revoked: Grant) -> Transfer:
    """Store a revocation and return its value to the budget; the caller appends the transfer."""
    uow.grants.update(revoked)
    uow.record(GrantRevoked(revoked))
    # adjust() refuses to exceed the funded amount: value can only come back once.
    if not uow.budgets.adjust(before.campaign_id, before.amount_minor):
        raise InvariantViolation(
            f"campaign {before.campaign_id}: returning {before.id} would exceed the funded budget"
        )
    at = revoked.closed_at_us
    assert at is not None, "a revoked grant has its instant"
    return Transfer(
        f"revoke:{before.id}",
        grants_account(before.campaign_id),
        budget_account(before.campaign_id),
        before.currency,
        before.amount_minor,
        "revoke",
        before.id,
        at,
    )


def clawback_transfer(case: ClawbackCase) -> Transfer:
    """The receivable: the customer owes the campaign what the opened grant paid."""
    return Transfer(
        f"clawback:{case.grant_id}",
        customer_owes_account(case.account_id),
        clawbacks_account(case.campaign_id),
        case.currency,
        case.amount_minor,
        "clawback",
        case.grant_id,
        case.created_at_us,
    )


def still_earns(
    grant: Grant, terms: CashbackTerms, rule: CompiledRule, purchase: PurchaseRecord, account: AccountRecord
) -> bool:
    """The purchase still passes the window and every condition of the grant's terms version, in
    the grant's currency, and was paid at least what the grant is worth (never more than paid)."""
    return (
        terms.window.contains(purchase.purchased_at_us)
        and purchase.currency == grant.currency
        and within_price(grant.amount_minor, purchase.price_minor)
        and all(rule.evaluate_conditions(values_of(purchase, account)))
    )


class GrantCorrections:
    """Re-checks the live grants of an import's changed rows, inside the import's unit of work."""

    def __init__(self, uow: UnitOfWork, rules: RuleCompiler, now_us: int) -> None:
        self._uow, self._rules, self._now = uow, rules, now_us
        # Only cashback campaigns with a budget can hold grants.
        self._campaigns = [
            r.campaign_id for r in uow.campaigns.all() if r.kind != "offer" and uow.budgets.get(r.campaign_id)
        ]
        self._terms: dict[tuple[str, int], tuple[CashbackTerms, CompiledRule]] = {}
        self.revoked = 0
        self.clawbacks = 0
        self._per_campaign: dict[str, list[int]] = {}

    def correct(self, what: str, changed: Sequence[str]) -> None:
        """``changed``: the purchase (or account) ids one batch replaced with different content."""
        if not changed or not self._campaigns:
            return
        if what == "purchases":
            live = [
                g
                for campaign_id in self._campaigns
                for g in self._uow.grants.for_purchases(campaign_id, changed).values()
                if g.state in _LIVE
            ]
        else:
            live = self._uow.corrections.live_grants_of_accounts(changed)
        if live:
            self._recheck(live)

    def _recheck(self, live: list[Grant]) -> None:
        found = self._uow.corrections.purchases([g.purchase_id for g in live])
        transfers: list[Transfer] = []
        for grant in sorted(live, key=lambda g: g.id):
            purchase, account = found.get(grant.purchase_id, (None, None))
            if purchase is not None and account is not None:
                terms, rule = self._terms_of(grant)
                if still_earns(grant, terms, rule, purchase, account):
                    continue
            transfer = self._withdraw(grant, correction_reason(purchase))
            if transfer is not None:
                transfers.append(transfer)
        self._uow.ledger.append(transfers)

    def _withdraw(self, found: Grant, reason: str) -> Transfer | None:
        # Locked and read again: a claim committed since the lookup makes it a claw-back instead.
        grant = self._uow.grants.get(found.id, for_update=True)
        if grant is None or grant.state not in _LIVE:
            return None
        counts = self._per_campaign.setdefault(grant.campaign_id, [0, 0])
        if grant.state is GrantState.ISSUED:
            self.revoked += 1
            counts[0] += 1
            return book_revocation(self._uow, grant, grant.revoke(self._now, reason))
        case = ClawbackCase.for_grant(grant, reason, self._now)
        if not self._uow.corrections.open_clawback(case):
            return None  # a case is open already: the customer owes it once
        self._uow.record(ClawbackOpened(case))
        self.clawbacks += 1
        counts[1] += 1
        return clawback_transfer(case)

    def _terms_of(self, grant: Grant) -> tuple[CashbackTerms, CompiledRule]:
        key = (grant.campaign_id, grant.terms_version)
        if key not in self._terms:
            versions = self._uow.campaigns.versions(grant.campaign_id)
            version = next(v for v in versions if v.version == grant.terms_version)
            terms = terms_of(version)
            self._terms[key] = (terms, self._rules(terms.rule))
        return self._terms[key]

    def record(self, actor: str) -> None:
        """One event per campaign touched: who ran the import that corrected how many grants."""
        for campaign_id, (revoked, clawbacks) in sorted(self._per_campaign.items()):
            detail = {"revoked": revoked, "clawbacks": clawbacks}
            self._uow.campaigns.record_event(campaign_id, "grants.corrected", actor, self._now, detail)


def grant_note(grant: Grant, qualifies: bool, version: int, case: ClawbackCase | None) -> str | None:
    """Why a grant stands beside an explanation that may say the purchase does not qualify."""
    if grant.state is GrantState.REVOKED:
        at = "" if grant.closed_at_us is None else f" at {format_instant(grant.closed_at_us)}"
        return f"grant revoked{at}: {grant.revoked_reason}"
    if case is not None:
        amount = format_minor(case.amount_minor, case.currency)
        return (
            f"no longer qualifies ({case.reason}); the grant was already opened, so claw-back case "
            f"{case.id} ({case.state.value}) records {amount} {case.currency} owed back"
        )
    if qualifies or grant.state not in _LIVE:
        return None
    if grant.terms_version != version:
        return (
            f"does not qualify under terms version {version}; this {grant.state.value} grant was issued "
            f"under version {grant.terms_version}, whose terms it earned"
        )
    return (
        f"does not qualify now, but this {grant.state.value} grant was issued when it did; an import "
        "with --update of the changed record revokes it (or opens a claw-back case if opened)"
    )


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise InputError(f"reason: say why, in 1 to {MAX_REASON} characters", param="reason")
    return text


def revoke_grant(
    uow_factory: UnitOfWorkFactory, clock: Clock, grant_id: str, reason: str, actor: str
) -> Grant:
    """Support withdraws an unopened grant; its value returns to the budget. Repeating it returns
    the revoked grant unchanged; an opened, expired or paid grant is refused (``grant_<state>``)."""
    why = check_reason(reason)
    now = clock.now_us()
    with uow_factory() as uow:
        grant = uow.grants.get(grant_id, for_update=True)
        if grant is None:
            raise NotFoundError(f"grant {grant_id} does not exist", code="grant_not_found", param="grant_id")
        revoked = grant.revoke(now, why)
        if revoked is not grant:
            uow.ledger.append([book_revocation(uow, grant, revoked)])
            uow.campaigns.record_event(
                grant.campaign_id, "grant.revoked", actor, now, {"grant": grant.id, "reason": why}
            )
            uow.commit()
    return revoked


def list_clawbacks(
    uow_factory: UnitOfWorkFactory,
    *,
    campaign_id: str | None = None,
    state: str | None = None,
    starting_after: str | None = None,
    limit: int = 100,
) -> Page[ClawbackCase]:
    check_page_limit(limit)
    with uow_factory() as uow:
        page = uow.corrections.clawbacks(
            campaign_id=campaign_id, state=state, starting_after=starting_after, limit=limit + 1
        )
    return page_of(page, limit)


def check_clawbacks(
    verifier: ChainVerifier,
    campaign_id: str,
    currency: str,
    totals: Callable[[str], dict[str, tuple[int, int]]],
) -> None:
    """The open cases of a campaign add up to what its claw-back receivable account holds."""
    recorded = totals(campaign_id).get(ClawbackState.OPEN.value, (0, 0))[1]
    booked = verifier.balance(clawbacks_account(campaign_id), currency)
    if recorded != booked:
        verifier.report(
            f"campaign {campaign_id}: open claw-back cases total {recorded} but the ledger's receivable "
            f"is {booked}"
        )
