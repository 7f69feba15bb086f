"""``explain``: for one account, every purchase, every condition, with the deciding values.

This path evaluates the rule in-process (CEL), one customer at a time; the
batch path evaluates the same conditions in SQL, and tests prove they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pledge.domain.campaign import CashbackTerms
from pledge.domain.corrections import ClawbackCase
from pledge.domain.errors import NotFoundError, RefusedError
from pledge.domain.grant import OPENED_STATES, Grant
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules.ast import fields_of
from pledge.domain.rules.schema import Value, values_of
from pledge.usecases.common import campaign_not_found, effective_of, latest_of, terms_of
from pledge.usecases.corrections import grant_note
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.ports import CompiledRule, RuleCompiler, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.why import NoGrantReason, why_no_grant


@dataclass(frozen=True, slots=True)
class TierPlacement:
    """Tiered terms (ADR 34): which tier the purchase falls in (None: none) and what it pays."""

    tier: str | None
    amount_minor: int


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """The purchase window, always the first condition: where the purchase falls against it."""

    passed: bool
    purchased_at_us: int
    first: date
    last: date
    days_outside: int
    timezone: str
    currency: str  # the campaign's, for the tier's amount
    tier: TierPlacement | None  # only for tiered terms


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One condition of the rule: passed, and the values it decided on (in the rule's field order)."""

    name: str
    passed: bool
    values: tuple[tuple[str, Value], ...]
    currency: str  # the purchase's, for its price
    timezone: str  # the campaign's, for instants


@dataclass(frozen=True, slots=True)
class PurchaseExplanation:
    """One purchase: every condition, its grant, and why it has none or what stands beside it."""

    purchase_id: str
    window: WindowCheck
    conditions: tuple[ConditionCheck, ...]
    grant: Grant | None
    why_no_grant: NoGrantReason | None
    note: str | None
    clawback: ClawbackCase | None
    payout: tuple[PayoutRecord, ...]  # the payout plan and where each transfer is (ADR 24, 27)

    @property
    def qualifies(self) -> bool:
        return _passes(self.window, self.conditions)


@dataclass(frozen=True, slots=True)
class Explanation:
    """``explain``: for one account and campaign, every purchase, every condition."""

    account_id: str
    campaign: str
    terms_version: int
    region: str
    purchases: tuple[PurchaseExplanation, ...]

    @property
    def qualifies(self) -> bool:
        return any(p.qualifies for p in self.purchases)


def _qualifies(
    compiled: CompiledRule, terms: CashbackTerms, purchase: PurchaseRecord, account: AccountRecord
) -> bool:
    return terms.window.contains(purchase.purchased_at_us) and all(
        compiled.evaluate_conditions(values_of(purchase, account))
    )


def explain_account(
    uow_factory: UnitOfWorkFactory, rules: RuleCompiler, account_id: str, campaign_id: str
) -> Explanation:
    """Every purchase of the account against the campaign's effective terms (its draft before one
    is approved), each condition with the values that decided it."""
    with uow_factory(read_only=True) as uow:
        record, versions = uow.campaigns.with_versions(campaign_id)  # one read, not two
        if record is None:
            raise campaign_not_found(campaign_id)
        try:
            version = effective_of(campaign_id, versions)
        except RefusedError:  # nothing approved yet: explain against the draft terms
            version = latest_of(campaign_id, versions)
        terms = terms_of(version)
        account, purchases = uow.purchases.of_account(account_id)
        if account is None:
            raise NotFoundError(
                f"account {account_id} does not exist", code="account_not_found", param="account"
            )
        grants = uow.grants.for_purchases(campaign_id, [p.purchase_id for p in purchases])
        cases = uow.corrections.clawbacks_of_grants([g.id for g in grants.values()])
        plans = {g.id: uow.payouts.of_grant(g.id) for g in grants.values() if g.state in OPENED_STATES}
        compiled = rules(terms.rule)
        why = _why_unpaid(uow, compiled, terms, account, purchases, grants)
    out = []
    for purchase in purchases:
        window, conditions = _window(terms, purchase), _conditions(compiled, terms, purchase, account)
        qualifies = _passes(window, conditions)
        grant = grants.get(purchase.purchase_id)
        why_not = why.get(purchase.purchase_id)
        case = cases.get(grant.id) if grant is not None else None
        note = None
        if why_not is None and grant is not None:
            note = grant_note(grant, qualifies, version.version, case) or None
        payout = tuple(plans.get(grant.id, ())) if grant is not None else ()
        out.append(
            PurchaseExplanation(purchase.purchase_id, window, conditions, grant, why_not, note, case, payout)
        )
    return Explanation(account_id, campaign_id, version.version, account.region, tuple(out))


def _why_unpaid(
    uow: UnitOfWork,
    compiled: CompiledRule,
    terms: CashbackTerms,
    account: AccountRecord,
    purchases: list[PurchaseRecord],
    grants: Mapping[str, Grant],
) -> dict[str, NoGrantReason]:
    """Why each qualifying purchase without a grant has none, by purchase id."""
    unpaid = [p for p in purchases if p.purchase_id not in grants and _qualifies(compiled, terms, p, account)]

    def qualifies_elsewhere(purchase_id: str, owner: str) -> bool:
        other, bought = uow.purchases.of_account(owner)
        found = next((p for p in bought if p.purchase_id == purchase_id), None)
        return other is not None and found is not None and _qualifies(compiled, terms, found, other)

    return why_no_grant(uow, terms, unpaid, qualifies_elsewhere)


def _passes(window: WindowCheck, conditions: tuple[ConditionCheck, ...]) -> bool:
    return window.passed and all(c.passed for c in conditions)


def _window(terms: CashbackTerms, purchase: PurchaseRecord) -> WindowCheck:
    at_us, window = purchase.purchased_at_us, terms.window
    tier = None
    if terms.tiers:
        tier = TierPlacement(
            terms.benefit.tier_of(at_us), terms.benefit.amount_minor(purchase.price_minor, at_us)
        )
    return WindowCheck(
        window.contains(at_us),
        at_us,
        window.first,
        window.last,
        window.distance_days(at_us),
        terms.timezone,
        terms.currency,
        tier,
    )


def _conditions(
    compiled: CompiledRule, terms: CashbackTerms, purchase: PurchaseRecord, account: AccountRecord
) -> tuple[ConditionCheck, ...]:
    """Each condition of the rule: passed, and the deciding values."""
    values = values_of(purchase, account)
    results = compiled.evaluate_conditions(values)
    return tuple(
        ConditionCheck(
            condition.name,
            passed,
            tuple((n, values[n]) for n in fields_of(condition.node)),
            purchase.currency,
            terms.timezone,
        )
        for condition, passed in zip(compiled.rule.conditions, results, strict=True)
    )
