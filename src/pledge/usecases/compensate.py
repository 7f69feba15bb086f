"""``campaign compensate``: make purchases under earlier terms versions whole.

The dry run and the real run walk the same terms with the same pure
function, so what the dry run lists is what gets applied. Applying is
batched (one transaction per batch, walking terms in id order), so a large run
shows progress and an interrupted one simply runs again: a compensated term is
skipped by the domain rule and, independently, by the database's primary key
on ``compensations.term_id``.

Each extension is told to its customer (``compensation_applied``: the new end date and the days
added) in the transaction that applies it, so no subscription is extended untold and nobody is told
of an extension that was rolled back. A batch's messages are written set-based, after its terms
(``usecases/notify_transactional.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pledge.domain.compensation import (
    CompensationItem,
    NoCompensation,
    apply_compensation,
    compensate,
    days_worth_minor,
)
from pledge.domain.errors import RefusedError
from pledge.domain.events import CompensationApplied, SubscriptionExtended
from pledge.domain.ledger import DAYS, Transfer, compensation_account, customer_service_account
from pledge.domain.money import format_minor
from pledge.domain.offers import CompensationPolicy, OfferTermsVersion
from pledge.domain.timeutil import format_instant, zone
from pledge.usecases.catalog import current_catalog
from pledge.usecases.common import offer_versions, require_campaign
from pledge.usecases.notify_transactional import Event, tell_accounts
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.subscription_reminders import reschedule_reminders

BATCH = 500


@dataclass(frozen=True, slots=True)
class PlanTotal:
    """What one plan's terms were given: how many, days in all, and their money equivalent."""

    plan: str
    terms: int
    days: int
    money_equivalent_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class CompensationRun:
    """A compensation run or its dry run (``entrypoints.presenters.compensation_json`` shows it)."""

    campaign: str
    to_version: int
    approved_by: str
    policy: CompensationPolicy
    account_id: str | None
    dry_run: bool
    items: tuple[CompensationItem, ...]  # what each term is (or would be) given
    skipped: dict[str, int]  # reason -> terms owed nothing, by reason
    totals: tuple[PlanTotal, ...]  # per plan, by plan id

    @property
    def applied(self) -> int:
        """Terms extended by this run (0 for a dry run)."""
        return 0 if self.dry_run else len(self.items)


def item_json(item: CompensationItem) -> dict[str, Any]:
    tz = zone(item.timezone)
    return {
        "subscription_id": item.term_id,
        "account_id": item.account_id,
        "plan": item.plan_id,
        "terms_version": item.from_version,
        "to_version": item.to_version,
        "policy": item.policy.value,
        "extra_days": item.extra_days,
        "old_ends_at": format_instant(item.old_ends_at_us, tz),
        "new_ends_at": format_instant(item.new_ends_at_us, tz),
        "paid": format_minor(item.p_old_minor, item.currency),
        "new_price": format_minor(item.p_new_minor, item.currency),
        "days_paid_for": item.t_old_days,
        "days_under_new_terms": item.t_new_days,
        "explanation": item.explain(),
    }


def _target(uow: UnitOfWork, campaign_id: str) -> tuple[OfferTermsVersion, dict[int, OfferTermsVersion]]:
    record = require_campaign(uow, campaign_id)
    if record.kind != "offer":
        raise RefusedError(f"campaign {campaign_id} is not an offer campaign", code="not_an_offer")
    versions = offer_versions(uow, campaign_id)
    approved = [v for v in versions if v.approved]
    if not approved or approved[-1].version == 1:
        raise RefusedError(
            f"campaign {campaign_id} has no approved newer terms version to compensate towards",
            code="nothing_to_reconcile",
        )
    return approved[-1], {v.version: v for v in versions}


def _decide(
    uow: UnitOfWork,
    term_id_after: str,
    new: OfferTermsVersion,
    by_number: dict[int, OfferTermsVersion],
    policy: CompensationPolicy | None,
    account_id: str | None = None,
) -> tuple[list[CompensationItem | NoCompensation], dict[str, str], str | None]:
    """The batch after ``term_id_after``: each term's decision, the name of each term's plan as it
    was sold (what the customer is told), and the last term id read (None: no term left)."""
    terms = uow.subscriptions.of_campaign(new.campaign_id, new.version, term_id_after, BATCH)
    decisions: list[CompensationItem | NoCompensation] = []
    plan_names: dict[str, str] = {}
    for term in terms:
        if account_id is not None and term.account_id != account_id:
            continue  # customer service compensating one customer
        old = by_number[term.terms_version or 0]
        # The plan as it was sold: a later catalog change must not change what the customer is owed.
        catalog = uow.catalogs.as_of(term.purchased_at_us) or current_catalog(uow)
        plan = catalog.catalog.plan(term.plan_id)
        decisions.append(compensate(term, old, new, plan, policy))
        plan_names[term.id] = plan.name
    return decisions, plan_names, (terms[-1].id if terms else None)


def compensate_campaign(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    campaign_id: str,
    actor: str,
    *,
    dry_run: bool,
    policy: CompensationPolicy | None = None,
    progress: Callable[[int], None] | None = None,
    account_id: str | None = None,
) -> CompensationRun:
    now = clock.now_us()
    items: list[CompensationItem] = []
    skipped: Counter[str] = Counter()
    after = ""
    with uow_factory() as uow:
        new, by_number = _target(uow, campaign_id)
    assert new.approved_by is not None
    while True:
        with uow_factory() as uow:
            decisions, plan_names, last = _decide(uow, after, new, by_number, policy, account_id)
            if last is None:
                break
            batch: list[CompensationItem] = []
            for decision in decisions:
                if isinstance(decision, NoCompensation):
                    skipped[decision.reason] += 1
                    continue
                batch.append(decision)
                if not dry_run:
                    _apply(uow, decision, new.approved_by, actor, now)
            if not dry_run:
                tell_compensated(uow, campaign_id, batch, plan_names, now)
                uow.commit()
            items.extend(batch)
            after = last
            if progress:
                progress(len(items) + sum(skipped.values()))
    return CompensationRun(
        campaign_id,
        new.version,
        new.approved_by,
        policy or new.terms.compensation_policy,
        account_id,
        dry_run,
        tuple(items),
        dict(sorted(skipped.items())),
        _totals(items),
    )


def _apply(uow: UnitOfWork, item: CompensationItem, approved_by: str, actor: str, now: int) -> None:
    term = uow.subscriptions.get(item.term_id, for_update=True)
    assert term is not None
    extended = apply_compensation(term, item)
    uow.subscriptions.update(extended)
    uow.record(SubscriptionExtended(extended))
    reschedule_reminders(uow, term, extended, now)
    uow.subscriptions.record_compensation(item, approved_by, actor, now)
    uow.record(CompensationApplied(item, approved_by, actor, now))
    uow.ledger.append(
        [
            Transfer(
                item.idempotency_key,
                compensation_account(item.campaign_id),
                customer_service_account(item.account_id),
                DAYS,
                item.extra_days,
                "compensation",
                item.term_id,
                now,
            )
        ]
    )
    uow.outbox.enqueue(
        f"compensation.applied:{item.term_id}",
        "compensation.applied",
        item.account_id,
        item.term_id,
        now,
        item_json(item),
        now,
    )


def compensation_message(item: CompensationItem, plan_name: str) -> Event:
    """What the customer reads: the plan, the days added and the new end, as a date in the zone the
    subscription's periods are counted in (the campaign's), so it is the date its page shows."""
    params = {
        "service_name": plan_name,
        "days_added": item.extra_days,
        "ends_at_us": item.new_ends_at_us,
        "timezone": item.timezone,
    }
    return Event(item.account_id, item.term_id, params)


def tell_compensated(
    uow: UnitOfWork, campaign_id: str, items: list[CompensationItem], plan_names: dict[str, str], now: int
) -> int:
    """``compensation_applied`` to each extended term's account, once per term (its distribution is
    named after the term, which is compensated once, ever), in the caller's transaction; a
    bounded number of statements per batch. Returns the messages queued to send."""
    events = [compensation_message(i, plan_names.get(i.term_id, i.plan_id)) for i in items]
    return tell_accounts(uow, "compensation_applied", campaign_id, events, now) if events else 0


def money_equivalent(item: CompensationItem) -> int:
    """What the extra days are worth at the new terms' daily rate (half-even to the minor unit)."""
    return days_worth_minor(item.extra_days, item.p_new_minor, item.t_new_days)


def _totals(items: list[CompensationItem]) -> tuple[PlanTotal, ...]:
    per_plan: dict[str, list[CompensationItem]] = {}
    for item in items:
        per_plan.setdefault(item.plan_id, []).append(item)
    return tuple(
        PlanTotal(
            plan,
            len(group),
            sum(i.extra_days for i in group),
            sum(money_equivalent(i) for i in group),
            group[0].currency,
        )
        for plan, group in sorted(per_plan.items())
    )
