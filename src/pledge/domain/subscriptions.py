"""Subscription terms: one paid period each, renewals, auto-renew consent, refunds.

A :class:`Term` is one paid period of one plan for one account; a renewal is
a new term that starts where the previous one ended (``previous_term_id``), so
every payment is its own record. States: ``active → renewed | lapsed |
refunded``; every other move is refused naming both states.

Choices stated once:

* **Billing anchor.** Every term keeps ``anchor_us``, the instant whose local
  day of month and wall-clock time periods aim for (the first term's start).
  A renewal ends ``plan.period`` after the previous end, *measured from the
  anchor day*: Jan 31 → Feb 28 → Mar 31 (not Mar 28), as Stripe and Kill Bill
  do. Extra days from compensation move the anchor to the new end.
* **Auto-renew is off** unless the customer turns it on, and turning it on
  records who, when and the exact wording shown (:class:`AutoRenewConsent`).
* **Prorated refunds** are ``price_paid × unused / total`` over *elapsed real
  time* (UTC microseconds, so a 23-hour DST day counts 23 hours), rounded
  half-even to the minor unit; the retained part is the price minus the
  refund, so the two always sum to the price paid. The price actually paid is
  used, never the plan's current list price (lago-api#1776).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from pledge.domain.catalog import Plan
from pledge.domain.errors import InputError, InvariantViolation, RefusedError
from pledge.domain.money import divide_round_half_even, format_minor
from pledge.domain.offers import Quote
from pledge.domain.periods import add_days, days_between
from pledge.domain.timeutil import local_date, zone

REMINDER_DAYS = 7


class TermState(StrEnum):
    ACTIVE = "active"  # paid; current, or waiting to start
    RENEWED = "renewed"  # ended and followed by a renewal term
    LAPSED = "lapsed"  # ended without renewal
    REFUNDED = "refunded"


class TermKind(StrEnum):
    FIRST = "first"  # bought by the customer, possibly under an offer
    RENEWAL = "renewal"  # always at list price
    REPURCHASE = "repurchase"  # a refunded term bought again under newer terms, same start


_TRANSITIONS: dict[TermState, frozenset[TermState]] = {
    TermState.ACTIVE: frozenset({TermState.RENEWED, TermState.LAPSED, TermState.REFUNDED}),
    TermState.RENEWED: frozenset(),
    TermState.LAPSED: frozenset(),
    TermState.REFUNDED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class AutoRenewConsent:
    """Evidence of the customer's latest auto-renew choice: who, when, and the words shown."""

    enabled: bool
    actor: str
    at_us: int
    wording: str


@dataclass(frozen=True, slots=True)
class Term:
    id: str
    account_id: str
    plan_id: str
    price_paid_minor: int
    list_price_minor: int  # the plan's list price when bought, for the record
    currency: str
    timezone: str  # calendar months of this subscription are counted here
    starts_at_us: int
    ends_at_us: int
    anchor_us: int
    purchased_at_us: int
    kind: TermKind = TermKind.FIRST
    state: TermState = TermState.ACTIVE
    terms_version: int | None = None  # the offer terms version it was priced at; None: list price
    campaign_id: str | None = None
    auto_renew: bool = False
    consent: AutoRenewConsent | None = None
    previous_term_id: str | None = None
    compensated_days: int = 0
    reconciled_to_version: int | None = None  # the newer terms version it was made whole to
    refunded_minor: int = 0
    closed_at_us: int | None = None  # when it became renewed, lapsed or refunded

    def __post_init__(self) -> None:
        if self.ends_at_us <= self.starts_at_us:
            raise InvariantViolation(f"term {self.id}: ends before it starts")
        if not 0 <= self.refunded_minor <= self.price_paid_minor:
            raise InvariantViolation(f"term {self.id}: refund outside 0..price paid")
        if self.auto_renew and (self.consent is None or not self.consent.enabled):
            raise InvariantViolation(f"term {self.id}: auto-renew on without the customer's recorded consent")
        if self.compensated_days < 0:
            raise InvariantViolation(f"term {self.id}: negative compensation")

    def move(self, target: TermState, now_us: int, **changes: Any) -> Term:
        """This term in state ``target``; refused unless the lifecycle allows the move."""
        if target not in _TRANSITIONS[self.state]:
            raise RefusedError(
                f"subscription term {self.id} is {self.state.value} and cannot become {target.value}",
                code=f"term_{self.state.value}",
            )
        return replace(self, state=target, closed_at_us=now_us, **changes)

    @property
    def compensated(self) -> bool:
        return self.compensated_days > 0 or self.reconciled_to_version is not None


def start_term(term_id: str, account_id: str, quote: Quote, *, kind: TermKind = TermKind.FIRST) -> Term:
    """The first term of a subscription, at exactly the quoted price and dates; auto-renew off."""
    return Term(
        id=term_id,
        account_id=account_id,
        plan_id=quote.plan_id,
        price_paid_minor=quote.price_minor,
        list_price_minor=quote.list_price_minor,
        currency=quote.currency,
        timezone=quote.timezone,
        starts_at_us=quote.starts_at_us,
        ends_at_us=quote.ends_at_us,
        anchor_us=quote.starts_at_us,
        purchased_at_us=quote.starts_at_us,
        kind=kind,
        terms_version=quote.terms_version,
        campaign_id=quote.campaign_id,
    )


def auto_renew_wording(term: Term, plan: Plan) -> str:
    """The sentence shown when the customer turns auto-renew on; stored verbatim as evidence."""
    renews_on = local_date(term.ends_at_us, zone(term.timezone)).isoformat()
    price = f"{format_minor(plan.list_price_minor, plan.currency)} {plan.currency}"
    return (
        f"Renew my {plan.name} subscription automatically on {renews_on} and every {plan.period} "
        f"after that, charging {price} each time, until I turn auto-renew off."
    )


def set_auto_renew(term: Term, enabled: bool, actor: str, at_us: int, wording: str) -> Term:
    """Record the customer's choice. Repeating the current choice changes nothing (first evidence kept)."""
    if term.state is not TermState.ACTIVE:
        raise RefusedError(
            f"subscription term {term.id} is {term.state.value}; auto-renew changes only on an active term",
            code="term_ended",
        )
    if at_us >= term.ends_at_us:
        ended = local_date(term.ends_at_us, zone(term.timezone)).isoformat()
        raise RefusedError(
            f"subscription term {term.id} ended on {ended}; auto-renew cannot change now "
            "(renew-due renews it if auto-renew was on, or lapses it)",
            code="term_ended",
        )
    if not actor.strip():
        raise InputError("auto-renew: who made the choice is required", param="actor", code="no_consent")
    if enabled and not wording.strip():
        raise InputError(
            "auto-renew: turning it on needs the exact wording shown to the customer",
            param="wording",
            code="no_consent",
        )
    if term.auto_renew == enabled and term.consent is not None:
        return term
    return replace(term, auto_renew=enabled, consent=AutoRenewConsent(enabled, actor, at_us, wording))


def reminder_due_at(term: Term) -> int:
    """When to remind the customer: 7 calendar days before the end, same wall time, in the term's zone."""
    return max(term.starts_at_us, add_days(term.ends_at_us, -REMINDER_DAYS, term.timezone))


def is_due(term: Term, now_us: int) -> bool:
    """Whether renew-due must decide this term now: active and at or past its end."""
    return term.state is TermState.ACTIVE and now_us >= term.ends_at_us


def _check_due(term: Term, now_us: int) -> None:
    if not is_due(term, now_us):
        raise RefusedError(
            f"subscription term {term.id} is {term.state.value} and not due before its end",
            code="term_not_due",
        )


def renew(term: Term, plan: Plan, now_us: int, new_term_id: str) -> tuple[Term, Term]:
    """(the ended term, the next term): list price, from the old end, ``plan.period`` long from the anchor.

    Refused unless the term is due and the customer opted in. The next term
    starts at the old end even when renew-due runs late, so no day is lost or
    paid twice; it inherits the consent and the billing anchor.
    """
    if plan.id != term.plan_id or plan.currency != term.currency:
        raise InputError(f"plan {plan.id} is not the plan of subscription term {term.id}", param="plan")
    _check_due(term, now_us)
    if not term.auto_renew:
        raise RefusedError(
            f"subscription term {term.id}: auto-renew is off; it lapses instead", code="auto_renew_off"
        )
    ended = term.move(TermState.RENEWED, now_us)
    following = Term(
        id=new_term_id,
        account_id=term.account_id,
        plan_id=term.plan_id,
        price_paid_minor=plan.list_price_minor,
        list_price_minor=plan.list_price_minor,
        currency=term.currency,
        timezone=term.timezone,
        starts_at_us=term.ends_at_us,
        ends_at_us=plan.period.add_to(term.ends_at_us, term.timezone, anchor_us=term.anchor_us),
        anchor_us=term.anchor_us,
        purchased_at_us=now_us,
        kind=TermKind.RENEWAL,
        auto_renew=True,
        consent=term.consent,
        previous_term_id=term.id,
    )
    return ended, following


def lapse(term: Term, now_us: int) -> Term:
    """End a due term without renewal."""
    _check_due(term, now_us)
    return term.move(TermState.LAPSED, now_us)


@dataclass(frozen=True, slots=True)
class ReturnedDays:
    """Service days a refund takes back, by where they came from."""

    service: int  # the paid (and offer bonus) days: back to the plan's pool
    compensation: int  # days compensation added: back to the campaign's compensation


def returned_days(term: Term, from_us: int) -> ReturnedDays:
    """The days from ``from_us`` (or the term's start, if later) to the term's end.

    Compensation added its days at the end of the term, so they are the first to go back: a
    refund takes back the compensation the customer has not used yet, and only then paid days.
    """
    unused = max(0, days_between(max(from_us, term.starts_at_us), term.ends_at_us, term.timezone))
    compensation = min(term.compensated_days, unused)
    return ReturnedDays(unused - compensation, compensation)


@dataclass(frozen=True, slots=True)
class Refund:
    term: Term  # the term after the refund (state refunded)
    amount_minor: int
    retained_minor: int  # price paid minus the refund: the two always sum to the price paid
    unused_us: int
    total_us: int
    days: ReturnedDays  # service from ``now`` to the end, taken back


def prorate_unused(price_minor: int, unused_us: int, total_us: int) -> int:
    """``price × unused / total`` rounded half-even to the minor unit; ``unused`` clamped to 0..total."""
    if total_us <= 0:
        raise InvariantViolation("a term has a positive length")
    unused = min(max(unused_us, 0), total_us)
    return divide_round_half_even(price_minor * unused, total_us)


def _unused_us(term: Term, now_us: int) -> int:
    return min(max(term.ends_at_us - now_us, 0), term.ends_at_us - term.starts_at_us)


def _refund(term: Term, now_us: int, amount: int, *, days_from_us: int | None = None) -> Refund:
    """Refund ``amount``; the service stops at ``days_from_us`` (default ``now``), later days go back.

    ``compensated_days`` keeps what compensation the customer still holds, so the compensation
    records and the ledger's compensation account agree after the refund too.
    """
    if term.state is not TermState.ACTIVE:
        raise RefusedError(
            f"subscription term {term.id} is {term.state.value}; only an active term is refunded",
            code=f"term_{term.state.value}",
        )
    days = returned_days(term, now_us if days_from_us is None else days_from_us)
    refunded = term.move(
        TermState.REFUNDED,
        now_us,
        refunded_minor=amount,
        auto_renew=False,
        compensated_days=term.compensated_days - days.compensation,
    )
    total = term.ends_at_us - term.starts_at_us
    return Refund(refunded, amount, term.price_paid_minor - amount, _unused_us(term, now_us), total, days)


def full_refund(term: Term, now_us: int) -> Refund:
    """Refund everything paid for an active term; the service stops at ``now``."""
    return _refund(term, now_us, term.price_paid_minor)


def prorated_refund(term: Term, now_us: int) -> Refund:
    """Refund the unused share of the price paid (see the module docstring for the rounding)."""
    amount = prorate_unused(
        term.price_paid_minor, _unused_us(term, now_us), term.ends_at_us - term.starts_at_us
    )
    return _refund(term, now_us, amount)


@dataclass(frozen=True, slots=True)
class Repurchase:
    refunded: Term  # the old term, refunded in full
    term: Term  # the same subscription bought again under the newer terms
    refunded_minor: int  # P_old
    charged_minor: int  # P_new
    net_refund_minor: int  # P_old - P_new, what actually goes back to the customer
    days: ReturnedDays  # every day of the old term goes back, compensation included


def refund_and_repurchase(term: Term, new_quote: Quote, now_us: int, new_term_id: str) -> Repurchase:
    """Refund ``P_old``, charge ``P_new``: the subscription becomes a newer-terms one from the same start.

    ``new_quote`` must price the same plan from the same start under a newer
    terms version of the same campaign (``quote(plan, new_version,
    term.starts_at_us, ...)``). It stays the customer's choice after
    compensation: the extra days compensation gave are taken back with the
    rest of the old term's days, so the customer is made whole once, by the
    money. Refused for a term already repurchased, a renewal (offers apply to
    the first term only), or when the new terms would cost more.

    The new term starts with auto-renew off: the customer's earlier consent
    named the old term's end date and price, which no longer hold.
    """
    if term.kind is TermKind.REPURCHASE:
        raise RefusedError(
            f"subscription term {term.id} was already refunded and repurchased; it cannot be again",
            code="already_compensated",
        )
    if term.kind is not TermKind.FIRST:
        raise RefusedError(
            f"subscription term {term.id} is a {term.kind.value} term; offers apply to the first term only",
            code="not_first_term",
        )
    if new_quote.plan_id != term.plan_id or new_quote.starts_at_us != term.starts_at_us:
        raise InputError(
            f"the repurchase quote must be for plan {term.plan_id} from the term's own start", param="quote"
        )
    newer = new_quote.terms_version is not None and (
        term.terms_version is None
        or (
            new_quote.campaign_id == term.campaign_id
            and new_quote.terms_version > term.terms_version
            and new_quote.terms_version >= (term.reconciled_to_version or 0)
        )
    )
    if not newer:
        raise RefusedError(
            f"subscription term {term.id}: the quote is not under newer terms of its campaign",
            code="not_newer_terms",
        )
    net = term.price_paid_minor - new_quote.price_minor
    if net < 0:
        raise RefusedError(
            f"subscription term {term.id}: the new terms cost more than was paid; nothing to refund",
            code="repurchase_costs_more",
        )
    refund = _refund(term, now_us, term.price_paid_minor, days_from_us=term.starts_at_us)
    refunded = replace(refund.term, reconciled_to_version=new_quote.terms_version)
    bought = replace(
        start_term(new_term_id, term.account_id, new_quote, kind=TermKind.REPURCHASE),
        purchased_at_us=now_us,
        previous_term_id=term.id,
    )
    return Repurchase(refunded, bought, term.price_paid_minor, new_quote.price_minor, net, refund.days)
