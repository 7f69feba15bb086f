"""The dry run: reach, cost, rejections per condition, near misses and blocking problems.

It runs the very planner issuance uses, over the same ordered candidates, so
the dry run's numbers are what ``campaign run`` would issue right now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import replace

from pledge.domain.campaign import CashbackTerms
from pledge.domain.issuance import Decision
from pledge.domain.money import format_minor
from pledge.usecases.common import (
    latest_version,
    require_campaign,
    selection_for,
    terms_of,
)
from pledge.usecases.engine_ports import PurchaseScans
from pledge.usecases.planning import BudgetBinds, Decided, Split, add_to_tier, exact_decisions
from pledge.usecases.ports import RuleCompiler, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.scan_ports import PreparedCandidates, ScanCounts, Selection
from pledge.usecases.simulation import NearMiss, Problem, RunPlan, Simulation, TierReach, Widening

PROBLEM_SAMPLE = 20
Stage = Callable[[str], None]  # told what the dry run starts doing next (a long run's status line)


def _quiet(_: str) -> None:
    """No one is watching the stages."""


def blocking_problems(
    uow: UnitOfWork,
    terms: CashbackTerms,
    selection: Selection,
    counts: ScanCounts | None = None,
    history: PurchaseScans | None = None,
) -> list[Problem]:
    """What must be fixed before a single grant may be issued."""
    history = uow.purchases if history is None else history
    problems: list[Problem] = []
    amount = terms.benefit.constant_minor
    if amount is not None:  # an amount that does not follow the price may exceed it
        count, sample = history.overpaid(selection, terms.benefit, PROBLEM_SAMPLE)
        if count:
            problems.append(
                Problem(
                    "amount_exceeds_price_paid",
                    True,
                    count,
                    f"a cashback of {format_minor(amount, terms.currency)} {terms.currency} exceeds "
                    f"the price paid for {count:,} qualifying purchases (e.g. {', '.join(sample[:5])}); "
                    "a refund can never exceed the price paid: use amount: price_paid or a smaller amount",
                    tuple(sample),
                )
            )
    counts = counts if counts is not None else history.scan(selection)
    if counts.other_currency:
        problems.append(
            Problem(
                "currency_mismatch",
                True,
                counts.other_currency,
                f"{counts.other_currency} qualifying purchases were paid in another currency than "
                f"{terms.currency}; add a currency condition to the rule",
            )
        )
    return problems


def group_problems(terms: CashbackTerms, paid_elsewhere: Mapping[str, int]) -> list[Problem]:
    """What the approver must see about the promise group: stacking, when the terms allow it."""
    if not terms.stacking_allowed:
        return []
    total = sum(paid_elsewhere.values())
    by = ", ".join(f"{campaign} ({n:,})" for campaign, n in paid_elsewhere.items())
    message = (
        f"stacking allowed: {total:,} qualifying purchases already paid by {by} would be paid again"
        if total
        else f"stacking allowed: a purchase another campaign of group {terms.group} pays would be paid again"
    )
    return [Problem("stacking_allowed", False, total, message, campaigns=paid_elsewhere)]


def _budget_problems(plan: RunPlan) -> list[Problem]:
    if not plan.budget_exhausted:
        return []
    message = f"the budget runs out: {plan.budget_exhausted} qualifying purchases would get nothing"
    return [Problem("budget_exhausted", False, plan.budget_exhausted, message)]


def simulate_terms(
    uow: UnitOfWork,
    terms: CashbackTerms,
    selection: Selection,
    *,
    campaign_launched: bool,
    near_miss_limit: int,
    widen_days: int | None,
    stage: Stage = _quiet,
    history: PurchaseScans | None = None,
) -> Simulation:
    """``history``: where the purchases are read (default ``uow.purchases``; an engine, ADR 29)."""
    history = uow.purchases if history is None else history
    stage("scanning every purchase against each condition")
    counts = history.scan(selection)
    stage("looking for problems that block a launch")
    problems = blocking_problems(uow, terms, selection, counts, history)
    stage("deciding the grants in purchase order, within limits and budget")
    plan = _plan(uow, history, terms, selection, campaign_launched=campaign_launched)
    stage("finding near misses")
    near = _near_misses(history, terms, selection, near_miss_limit)
    problems += group_problems(terms, plan.paid_elsewhere) + _budget_problems(plan)
    widen = None
    if widen_days:
        stage(f"deciding the grants again with the window widened by {widen_days} days")
        widen = _widen(uow, history, terms, selection, plan, widen_days, campaign_launched=campaign_launched)
    return Simulation(
        campaign=terms.campaign_id,
        currency=terms.currency,
        timezone=terms.timezone,
        budget_minor=terms.budget_minor,
        evaluated=counts.evaluated,
        qualifying=counts.qualifying,
        plan=plan,
        tiers=_tier_reach(terms, plan.tiers),
        group=terms.group,
        stacking=terms.stacking,
        rejections=counts.rejections,
        near_misses_by_condition=counts.near_misses_by_condition,
        near_misses=near,
        problems=tuple(problems),
        widen=widen,
    )


def _near_misses(
    history: PurchaseScans, terms: CashbackTerms, selection: Selection, limit: int
) -> tuple[NearMiss, ...]:
    window = terms.window
    return tuple(
        NearMiss(
            m.purchase_id,
            m.account_id,
            m.condition,
            window.distance_days(m.purchased_at_us) if m.condition == "purchased" else None,
            m.purchased_at_us,
        )
        for m in history.near_misses(selection, limit)
    )


def _widen(
    uow: UnitOfWork,
    history: PurchaseScans,
    terms: CashbackTerms,
    selection: Selection,
    plan: RunPlan,
    days: int,
    *,
    campaign_launched: bool,
) -> Widening:
    """What the window widened by ``days`` at both ends adds to ``plan``."""
    wider_terms = terms.widened(days)
    wider = wider_terms.window
    wider_selection = Selection(wider, selection.conditions, selection.currency)
    wider_plan = _plan(uow, history, wider_terms, wider_selection, campaign_launched=campaign_launched)
    return Widening(
        days,
        wider.first,
        wider.last,
        wider_plan.grants - plan.grants,
        wider_plan.amount_minor - plan.amount_minor,
        wider_plan.budget_exhausted,
    )


def _tier_reach(terms: CashbackTerms, tiers: Mapping[str, tuple[int, int]]) -> tuple[TierReach, ...]:
    """Each tier of tiered terms (ADR 34) with its window, grants and amount; else nothing."""
    if not terms.tiers:
        return ()
    windows = {t.id: t.window for t in terms.tiers}
    return tuple(
        TierReach(tier, windows[tier].first, windows[tier].last, n, total)
        for tier, (n, total) in tiers.items()
    )


def _plan(
    uow: UnitOfWork,
    history: PurchaseScans,
    terms: CashbackTerms,
    selection: Selection,
    *,
    campaign_launched: bool,
) -> RunPlan:
    remaining = terms.budget_minor
    if campaign_launched:
        budget = uow.budgets.get(terms.campaign_id)
        if budget is not None:
            # what is left, moved by the budget change a newer version may bring
            remaining = budget.remaining_minor + terms.budget_minor - budget.funded_minor
    remaining = max(remaining, 0)
    with closing(history.prepare(selection, terms, count_issued=campaign_launched)) as prepared:
        return plan_prepared(uow, terms, prepared, remaining, from_issued=campaign_launched)


def plan_prepared(
    uow: UnitOfWork, terms: CashbackTerms, prepared: PreparedCandidates, remaining: int, *, from_issued: bool
) -> RunPlan:
    """What a run from ``remaining`` would decide for the prepared candidates, as counts and amount."""
    try:
        split = Split(uow, terms, prepared, remaining, from_issued=from_issued)
        tally, amount, tiers = _tally(split.decisions(), terms)
        tally[Decision.GRANT] += split.free.count
        tally[Decision.EARNS_NOTHING] += split.free.earns_nothing
        tally[Decision.PER_ACCOUNT] += split.rank_refused.per_account
        amount += split.free.amount_minor
        for tier, (n, total) in split.free.by_tier.items():
            tiers[tier] = (tiers[tier][0] + n, tiers[tier][1] + total)
    except BudgetBinds:
        _, decisions = exact_decisions(uow, terms, prepared, remaining, from_issued=from_issued)
        tally, amount, tiers = _tally(decisions, terms)
    paid = prepared.paid_elsewhere()
    return RunPlan(
        grants=tally[Decision.GRANT],
        amount_minor=amount,
        tiers=tiers,
        budget_exhausted=tally[Decision.BUDGET_EXHAUSTED],
        already_granted=tally[Decision.ALREADY_GRANTED],
        per_account=tally[Decision.PER_ACCOUNT],
        per_serial=tally[Decision.PER_SERIAL],
        earns_nothing=tally[Decision.EARNS_NOTHING],
        paid_elsewhere=paid,
        already_paid=0 if terms.stacking_allowed else sum(paid.values()),
    )


def _tally(
    decisions: Iterable[Decided], terms: CashbackTerms
) -> tuple[dict[Decision, int], int, dict[str, tuple[int, int]]]:
    """Decisions counted, the amount granted, and each tier's grants and amount (every tier
    present, in the terms' order, even one that grants nothing)."""
    tally = dict.fromkeys(Decision, 0)
    amount = 0
    tiers = dict.fromkeys(terms.tier_ids(), (0, 0))
    tier_of = terms.benefit.tier_of
    for candidate, decision, granted_minor in decisions:
        tally[decision] += 1
        amount += granted_minor
        if tiers and decision is Decision.GRANT:
            add_to_tier(tiers, str(tier_of(candidate.purchased_at_us)), granted_minor)
    return tally, amount, tiers


def simulate_campaign(
    uow_factory: UnitOfWorkFactory,
    rules: RuleCompiler,
    campaign_id: str,
    *,
    near_miss_limit: int = 100,
    widen_days: int | None = None,
    stage: Stage = _quiet,
    history: Callable[[UnitOfWork], PurchaseScans] | None = None,
) -> Simulation:
    """Dry run of the latest terms version (approved or not) over every purchase (read from
    ``history(uow)`` if given: an engine where the history lives, ADR 29)."""
    with uow_factory() as uow:
        record = require_campaign(uow, campaign_id)
        version = latest_version(uow, campaign_id)
        terms = terms_of(version)
        result = simulate_terms(
            uow,
            terms,
            selection_for(terms, rules),
            campaign_launched=uow.budgets.get(campaign_id) is not None,
            near_miss_limit=near_miss_limit,
            widen_days=widen_days,
            stage=stage,
            history=None if history is None else history(uow),
        )
        return replace(result, version=version.version, state=record.state)
