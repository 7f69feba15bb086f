"""Subscriptions: buy at the quoted terms, consent to auto-renew, renew or lapse, refund.

Every money movement and every day of service goes through the ledger:
payment (customer → revenue), the discount an offer gave (discounts →
revenue), service time as its own asset ``DAYS`` (plan pool → customer, the
free part from the campaign), and the reverse on refunds (``subscription_postings``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pledge.domain.errors import NotFoundError, RefusedError
from pledge.domain.events import SubscriptionLapsed, SubscriptionRenewed, SubscriptionStarted
from pledge.domain.money import format_minor
from pledge.domain.offers import quote, version_in_effect
from pledge.domain.periods import Period, days_between
from pledge.domain.subscriptions import (
    Term,
    TermKind,
    auto_renew_wording,
    full_refund,
    lapse,
    prorated_refund,
    refund_and_repurchase,
    renew,
    set_auto_renew,
    start_term,
)
from pledge.domain.timeutil import format_instant, zone
from pledge.usecases.catalog import current_catalog
from pledge.usecases.common import MAX_PAGE, Page, offer_versions, page_of, require_account
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.quotes import DEFAULT_TIMEZONE, best_quote
from pledge.usecases.subscription_postings import payment_transfers, refund_transfers
from pledge.usecases.subscription_reminders import queue_reminders

WORDING_VERSION = "auto-renew-v1"
BATCH = 500


def term_id_for(*parts: object) -> str:
    """Deterministic ids: retrying the same purchase finds the same term instead of charging twice."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"sub_{digest[:24]}"


def term_json(term: Term) -> dict[str, Any]:
    tz = zone(term.timezone)
    return {
        "id": term.id,
        "object": "subscription_term",
        "account_id": term.account_id,
        "plan": term.plan_id,
        "kind": term.kind.value,
        "price_paid": format_minor(term.price_paid_minor, term.currency),
        "list_price": format_minor(term.list_price_minor, term.currency),
        "currency": term.currency,
        "starts_at": format_instant(term.starts_at_us, tz),
        "ends_at": format_instant(term.ends_at_us, tz),
        "days": days_between(term.starts_at_us, term.ends_at_us, term.timezone),
        "campaign": term.campaign_id,
        "terms_version": term.terms_version,
        "auto_renew": term.auto_renew,
        "state": term.state.value,
        "compensated_days": term.compensated_days,
        "refunded": format_minor(term.refunded_minor, term.currency),
        "previous_term_id": term.previous_term_id,
    }


@dataclass(frozen=True, slots=True)
class Consent:
    """One auto-renew choice: who turned it on or off, when, seeing which words."""

    auto_renew: bool
    actor: str
    at_us: int
    wording_version: str
    wording: str


@dataclass(frozen=True, slots=True)
class ConsentedTerm:
    """A term with its auto-renew consent history, oldest first."""

    term: Term
    consents: tuple[Consent, ...]


def consents_of(history: list[dict[str, Any]]) -> tuple[Consent, ...]:
    """A term's consent history as the store reads it."""
    return tuple(
        Consent(c["auto_renew"], c["actor"], c["at_us"], c["wording_version"], c["wording"]) for c in history
    )


def consented_term_json(consented: ConsentedTerm) -> dict[str, Any]:
    """A term with its consents, as ``GET /v1/subscriptions/{id}`` and the audit log show it."""
    consents = [
        {
            "auto_renew": c.auto_renew,
            "actor": c.actor,
            "at": format_instant(c.at_us),
            "wording_version": c.wording_version,
            "wording": c.wording,
        }
        for c in consented.consents
    ]
    return {**term_json(consented.term), "consents": consents}


@dataclass(frozen=True, slots=True)
class SubscriptionRefund:
    """A refund: what went back and (a repurchase) what the new term cost; the days of compensation
    returned with it. ``refunded_term``: the term a repurchase replaced (None for a plain refund)."""

    refunded_minor: int
    charged_minor: int
    net_refund_minor: int
    currency: str
    prorated: bool
    compensation_days_returned: int
    subscription: Term
    refunded_term: Term | None = None


def _base_days(term: Term, period: Period) -> int:
    """Days the plan's own period gives from the term's start (the rest of the first term is a bonus)."""
    end = period.add_to(term.starts_at_us, term.timezone, anchor_us=term.anchor_us)
    return days_between(term.starts_at_us, end, term.timezone)


def _store_new_term(uow: UnitOfWork, term: Term, now: int) -> bool:
    catalog = current_catalog(uow)
    if not uow.subscriptions.add(term, catalog.version, now):
        return False
    uow.record(SubscriptionRenewed(term) if term.kind is TermKind.RENEWAL else SubscriptionStarted(term))
    plan = catalog.catalog.plan(term.plan_id)
    uow.ledger.append(payment_transfers(term, now, _base_days(term, plan.period)))
    queue_reminders(uow, term, now)
    return True


def buy_subscription(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    account_id: str,
    plan_id: str,
    tz_name: str = DEFAULT_TIMEZONE,
) -> Term:
    """Record a paid first term at exactly the terms a quote gives now; auto-renew off."""
    now = clock.now_us()
    with uow_factory() as uow:
        require_account(uow, account_id)
        plan = current_catalog(uow).catalog.plan(plan_id)
        offered = best_quote(uow, plan, now, tz_name)
        term = start_term(term_id_for(account_id, plan_id, now), account_id, offered)
        if not _store_new_term(uow, term, now):
            stored = uow.subscriptions.get(term.id)
            assert stored is not None
            return stored
        uow.commit()
    return term


def list_subscriptions(
    uow_factory: UnitOfWorkFactory,
    *,
    account_id: str | None = None,
    starting_after: str | None = None,
    limit: int = 100,
) -> Page[Term]:
    if not 1 <= limit <= MAX_PAGE:
        raise RefusedError(f"limit: must be between 1 and {MAX_PAGE}", param="limit", code="invalid_limit")
    with uow_factory() as uow:
        page = uow.subscriptions.page(account_id=account_id, starting_after=starting_after, limit=limit + 1)
    return page_of(page, limit)


def _require_term(uow: UnitOfWork, term_id: str) -> Term:
    term = uow.subscriptions.get(term_id, for_update=True)
    if term is None:
        raise NotFoundError(f"subscription term {term_id} does not exist", code="term_not_found", param="id")
    return term


def set_term_auto_renew(
    uow_factory: UnitOfWorkFactory, clock: Clock, term_id: str, enabled: bool, actor: str
) -> ConsentedTerm:
    """Record the customer's consent (who, when, the exact wording shown)."""
    now = clock.now_us()
    with uow_factory() as uow:
        term = _require_term(uow, term_id)
        plan = current_catalog(uow).catalog.plan(term.plan_id)
        wording = auto_renew_wording(term, plan) if enabled else "Auto-renew turned off."
        changed = set_auto_renew(term, enabled, actor, now, wording)
        if changed is not term:
            uow.subscriptions.update(changed)
            assert changed.consent is not None
            uow.subscriptions.record_consent(term.id, changed.consent, WORDING_VERSION)
            uow.commit()
        history = uow.subscriptions.consent_history(term.id)
    return ConsentedTerm(changed, consents_of(history))


@dataclass(frozen=True, slots=True)
class RenewalRun:
    """Ended terms decided by one ``renew_due``: renewed (auto-renew on) or lapsed."""

    renewed: int
    lapsed: int


def renew_due(uow_factory: UnitOfWorkFactory, clock: Clock) -> RenewalRun:
    """Renew opted-in terms that have ended, at list price, as new terms; lapse the others."""
    now = clock.now_us()
    renewed = lapsed = 0
    while True:
        with uow_factory() as uow:
            due = uow.subscriptions.due(now, BATCH)
            if not due:
                break
            catalog = current_catalog(uow).catalog
            for term in due:
                if term.auto_renew and term.plan_id in catalog.plan_ids:
                    ended, following = renew(
                        term, catalog.plan(term.plan_id), now, term_id_for(term.id, "renewal")
                    )
                    uow.subscriptions.update(ended)
                    _store_new_term(uow, following, now)
                    uow.outbox.enqueue(
                        f"subscription.renewed:{term.id}",
                        "subscription.renewed",
                        term.account_id,
                        following.id,
                        now,
                        {"previous": term.id, "term": following.id},
                        now,
                    )
                    renewed += 1
                else:
                    lapsed_term = lapse(term, now)
                    uow.subscriptions.update(lapsed_term)
                    uow.record(SubscriptionLapsed(lapsed_term))
                    uow.outbox.enqueue(
                        f"subscription.lapsed:{term.id}",
                        "subscription.lapsed",
                        term.account_id,
                        term.id,
                        now,
                        {"term": term.id},
                        now,
                    )
                    lapsed += 1
            uow.commit()
    return RenewalRun(renewed, lapsed)


def refund_subscription(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    term_id: str,
    *,
    repurchase: bool = False,
    prorated: bool = False,
) -> SubscriptionRefund:
    """Refund a term in full (or its unused share), optionally rebuying it at the terms now in effect."""
    now = clock.now_us()
    with uow_factory() as uow:
        term = _require_term(uow, term_id)
        if not repurchase:
            refund = prorated_refund(term, now) if prorated else full_refund(term, now)
            uow.subscriptions.update(refund.term)
            uow.ledger.append(refund_transfers(term, refund.amount_minor, refund.days, now))
            uow.commit()
            amount = refund.amount_minor
            return SubscriptionRefund(
                amount, 0, amount, term.currency, prorated, refund.days.compensation, refund.term
            )
        if term.campaign_id is None:
            raise RefusedError(
                f"subscription term {term.id} was not bought under a campaign", code="no_campaign"
            )
        newer = version_in_effect(offer_versions(uow, term.campaign_id), now)
        if newer is None or term.terms_version is None or newer.version <= term.terms_version:
            raise RefusedError(
                f"campaign {term.campaign_id} has no newer terms in effect to repurchase at",
                code="no_newer_terms",
            )
        plan = current_catalog(uow).catalog.plan(term.plan_id)
        new_quote = quote(plan, newer, term.starts_at_us, term.timezone)
        done = refund_and_repurchase(term, new_quote, now, term_id_for(term.id, "repurchase"))
        uow.subscriptions.update(done.refunded)
        # The repurchased term covers the same days from the same start: all of the old term's days go back.
        uow.ledger.append(refund_transfers(term, done.refunded_minor, done.days, now))
        _store_new_term(uow, done.term, now)
        uow.commit()
    return SubscriptionRefund(
        done.refunded_minor,
        done.charged_minor,
        done.net_refund_minor,
        term.currency,
        False,
        done.days.compensation,
        done.term,
        done.refunded,
    )
