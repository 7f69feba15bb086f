"""Compensation: making purchases under earlier terms whole when newer terms replace them.

With ``P_old`` the price paid and ``T_old`` the days it bought, and ``P_new``,
``T_new`` the price and days the *new* terms would give from the *same start*:

* ``rate_parity`` (the default): the customer ends up at the new daily rate,
  ``extra = max(0, ceil(P_old × T_new / P_new) − T_old)``;
* ``difference_as_time``: the money difference turned into time at the new
  daily rate, ``extra = max(0, ceil((P_old − P_new) × T_new / P_new))``;
* ``refund_and_repurchase`` is the customer's choice through customer
  service, one subscription at a time
  (:func:`pledge.domain.subscriptions.refund_and_repurchase`); a bulk run
  under that policy extends nothing.

Integer arithmetic only; both ceilings round in the customer's favour, so
``P_old / (T_old + extra) <= P_new / T_new`` holds exactly under rate parity.
Days are whole local calendar days in the term's zone
(:func:`pledge.domain.periods.days_between`): the time of day of a purchase
never changes the count. ``T_old`` comes from the term's actual start and end;
``T_new`` and ``P_new`` from :func:`pledge.domain.offers.quote` under the new
version from the same start. The extra days are added to the end as calendar
days (same wall time, DST-safe), so compensation never shortens a
subscription. A purchase is compensated at most once: a term already made
whole, refunded, bought under the new terms, or not a first term gets a
:class:`NoCompensation` with a stable reason instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from pledge.domain.catalog import Plan
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.money import ceil_div, divide_round_half_even, format_minor
from pledge.domain.offers import CompensationPolicy, OfferTermsVersion, quote
from pledge.domain.periods import MAX_DAYS, add_days, days_between
from pledge.domain.subscriptions import Term, TermKind, TermState
from pledge.domain.timeutil import local_date, zone


def _check_inputs(p_old: int, p_new: int, t_new: int) -> None:
    if p_old < 0 or p_new <= 0 or t_new <= 0:
        raise InputError("compensation needs P_old >= 0, P_new > 0 and T_new > 0", param="terms")


def rate_parity_extra_days(p_old: int, t_old: int, p_new: int, t_new: int) -> int:
    """``max(0, ceil(P_old × T_new / P_new) − T_old)``: days that bring the paid rate to the new rate."""
    _check_inputs(p_old, p_new, t_new)
    return max(0, ceil_div(p_old * t_new, p_new) - t_old)


def difference_as_time_extra_days(p_old: int, p_new: int, t_new: int) -> int:
    """``max(0, ceil((P_old − P_new) × T_new / P_new))``: the overpayment as days at the new rate."""
    _check_inputs(p_old, p_new, t_new)
    return max(0, ceil_div((p_old - p_new) * t_new, p_new))


@dataclass(frozen=True, slots=True)
class CompensationItem:
    """Extra service days for one term, and every number that decided them."""

    term_id: str
    account_id: str
    plan_id: str
    campaign_id: str
    from_version: int
    to_version: int
    policy: CompensationPolicy
    extra_days: int
    old_ends_at_us: int
    new_ends_at_us: int
    p_old_minor: int
    p_new_minor: int
    t_old_days: int
    t_new_days: int
    currency: str
    timezone: str

    @property
    def idempotency_key(self) -> str:
        # Per purchase, not per version pair: a purchase is compensated once, ever.
        return f"compensation:{self.term_id}"

    def explain(self) -> str:
        """What happened, in words a customer service agent can read out."""
        tz = zone(self.timezone)
        paid = f"{format_minor(self.p_old_minor, self.currency)} {self.currency}"
        new = f"{format_minor(self.p_new_minor, self.currency)} {self.currency}"
        ends = local_date(self.new_ends_at_us, tz).isoformat()
        if self.policy is CompensationPolicy.RATE_PARITY:
            reason = (
                f"at that daily rate {paid} buys {self.t_old_days + self.extra_days} days, "
                f"so {self.extra_days} days are added"
            )
        else:
            diff = format_minor(self.p_old_minor - self.p_new_minor, self.currency)
            reason = f"the {diff} {self.currency} difference buys {self.extra_days} days at that daily rate"
        return (
            f"Paid {paid} for {self.t_old_days} days under terms version {self.from_version}; "
            f"version {self.to_version} gives {self.t_new_days} days for {new}; {reason}: "
            f"the subscription now ends {ends} instead of {local_date(self.old_ends_at_us, tz).isoformat()}."
        )


@dataclass(frozen=True, slots=True)
class NoCompensation:
    """Why a term gets nothing; ``reason`` is a stable code for reports."""

    term_id: str
    reason: str
    message: str


def _check_pair(
    term: Term, old_version: OfferTermsVersion, new_version: OfferTermsVersion, plan: Plan
) -> None:
    """Refuse a call that mixes campaigns, goes backwards or names another plan than the term's."""
    if old_version.campaign_id != new_version.campaign_id or new_version.version <= old_version.version:
        raise InputError(
            f"version {new_version.version} of {new_version.campaign_id} does not replace "
            f"version {old_version.version} of {old_version.campaign_id}",
            param="new_version",
        )
    if plan.id != term.plan_id:
        raise InputError(f"plan {plan.id} is not the plan of subscription term {term.id}", param="plan")


def _not_owed(
    term: Term, old_version: OfferTermsVersion, new_version: OfferTermsVersion, chosen: CompensationPolicy
) -> tuple[str, str] | None:
    """(reason, message) when ``term`` is owed nothing whatever the prices, checked in this order."""
    if term.campaign_id != new_version.campaign_id or term.terms_version is None:
        return ("not_this_campaign", f"not bought under campaign {new_version.campaign_id}")
    if term.state is TermState.REFUNDED:
        return ("refunded", "refunded, nothing to extend")
    if term.compensated:
        return ("already_compensated", f"already made whole to version {term.reconciled_to_version}")
    if term.terms_version >= new_version.version:
        return ("bought_under_new_terms", f"bought under version {term.terms_version}")
    if term.kind is not TermKind.FIRST:
        return ("not_first_term", f"a {term.kind.value} term; offers apply to the first term only")
    if term.terms_version != old_version.version:
        raise InputError(
            f"subscription term {term.id} was bought under version {term.terms_version}, "
            f"not {old_version.version}",
            param="old_version",
        )
    if term.state is not TermState.ACTIVE:
        return ("term_ended", f"{term.state.value}; compensate it by hand")
    if chosen is CompensationPolicy.REFUND_AND_REPURCHASE:
        return ("customer_choice", "refund and repurchase happens on the customer's request")
    return None


def compensate(
    term: Term,
    old_version: OfferTermsVersion,
    new_version: OfferTermsVersion,
    plan: Plan,
    policy: CompensationPolicy | None = None,
) -> CompensationItem | NoCompensation:
    """What ``term`` (bought under ``old_version``) is owed now that ``new_version`` replaces it.

    ``policy`` defaults to the new version's ``terms.compensation.policy``.
    Pure: nothing changes until :func:`apply_compensation`, so the same call
    is the dry run.
    """
    _check_pair(term, old_version, new_version, plan)
    chosen = policy or new_version.terms.compensation_policy

    def nothing(reason: str, message: str) -> NoCompensation:
        return NoCompensation(term.id, reason, f"subscription term {term.id}: {message}")

    skipped = _not_owed(term, old_version, new_version, chosen)
    if skipped is not None:
        return nothing(*skipped)
    assert term.terms_version is not None, "a term bought under no terms version is owed nothing"
    offered = quote(plan, new_version, term.starts_at_us, term.timezone)
    if offered.terms_version != new_version.version:
        return nothing("not_covered_by_new_terms", "the new terms do not cover this plan on this date")
    p_old, p_new = term.price_paid_minor, offered.price_minor
    t_old = days_between(term.starts_at_us, term.ends_at_us, term.timezone)
    t_new = days_between(offered.starts_at_us, offered.ends_at_us, term.timezone)
    if chosen is CompensationPolicy.RATE_PARITY:
        extra = rate_parity_extra_days(p_old, t_old, p_new, t_new)
    else:
        extra = difference_as_time_extra_days(p_old, p_new, t_new)
    if extra == 0:
        return nothing("no_difference", "already at or better than the new terms")
    if extra > MAX_DAYS:  # a price typo (0.01) would otherwise promise centuries of service
        raise RefusedError(
            f"subscription term {term.id}: {extra} extra days is more than {MAX_DAYS}; check the new prices",
            code="compensation_too_large",
        )
    return CompensationItem(
        term_id=term.id,
        account_id=term.account_id,
        plan_id=term.plan_id,
        campaign_id=new_version.campaign_id,
        from_version=term.terms_version,
        to_version=new_version.version,
        policy=chosen,
        extra_days=extra,
        old_ends_at_us=term.ends_at_us,
        new_ends_at_us=add_days(term.ends_at_us, extra, term.timezone),
        p_old_minor=p_old,
        p_new_minor=p_new,
        t_old_days=t_old,
        t_new_days=t_new,
        currency=term.currency,
        timezone=term.timezone,
    )


def apply_compensation(term: Term, item: CompensationItem) -> Term:
    """The term extended by ``item``; refused if already compensated or changed since the dry run.

    The billing anchor moves to the new end, so a later renewal runs whole
    months from there instead of snapping back to the original day.
    """
    if item.term_id != term.id:
        raise InputError(f"compensation for {item.term_id} applied to {term.id}", param="term")
    if term.compensated:
        raise RefusedError(
            f"subscription term {term.id} is already compensated (version {term.reconciled_to_version})",
            code="already_compensated",
        )
    if term.state is not TermState.ACTIVE or term.ends_at_us != item.old_ends_at_us:
        raise RefusedError(
            f"subscription term {term.id} changed since the compensation was computed; compute it again",
            code="stale_compensation",
        )
    return replace(
        term,
        ends_at_us=item.new_ends_at_us,
        anchor_us=item.new_ends_at_us,
        compensated_days=item.extra_days,
        reconciled_to_version=item.to_version,
    )


def days_worth_minor(extra_days: int, p_new_minor: int, t_new_days: int) -> int:
    """What extra days are worth at the new terms' daily rate, rounded half-even to the minor unit.

    Reports sum this per term, so a dry run and a report of the applied run agree to the fen.
    """
    return divide_round_half_even(extra_days * p_new_minor, t_new_days)


class PlanCompensation(NamedTuple):
    """One compensation as stored, with its term's plan and the days the term still holds of it."""

    plan_id: str
    currency: str
    days_granted: int
    days_held: int
    p_new_minor: int
    t_new_days: int


def compensation_totals(rows: Iterable[PlanCompensation]) -> list[dict[str, Any]]:
    """Per plan (in the order the rows first name it), from one row per compensation.

    The one place this arithmetic lives: the stores return rows, the use cases call this.

    ``days`` is what customers still hold: a refund takes back compensation days not yet used
    (``days_returned``), and the money equivalent counts only the days held.
    """
    totals: dict[str, dict[str, Any]] = {}
    for plan_id, currency, granted, held, p_new, t_new in rows:
        entry = totals.setdefault(
            plan_id,
            {
                "plan": plan_id,
                "terms": 0,
                "days": 0,
                "days_returned": 0,
                "money_minor": 0,
                "currency": currency,
            },
        )
        entry["terms"] += 1
        entry["days"] += held
        entry["days_returned"] += granted - held
        entry["money_minor"] += days_worth_minor(held, p_new, t_new)
    return list(totals.values())
