"""Offer campaigns: first-term offers on subscriptions, versioned terms, quotes.

An offer file (``kind: offer``) is validated here into :class:`OfferTerms`,
every error naming its field (``terms.offer.prices.cloud-gold-50gb``). The
whole canonical document is hashed, not only the ``terms:`` section: the sale
window and the plans an offer applies to are part of what was promised, so
changing them is a new terms version that needs its own approval.

Which version prices a purchase: the newest *approved* version whose
``effective`` instant is at or before the purchase instant
(:func:`version_in_effect`). A purchase records the version it was priced at,
so later versions never reprice it; they compensate it (``compensation.py``).

An offer applies to the *first term only* and only when the purchase instant
falls inside the sale window (local dates in the campaign's zone, both
inclusive) and the plan is in ``applies_to``; every renewal is at list price,
and auto-renew is off unless the customer opts in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pledge.domain.campaign import check_approval, terms_hash
from pledge.domain.catalog import Catalog, Plan
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.fields import money_field, section, slug_field, text_field
from pledge.domain.money import currency_exponent, format_minor
from pledge.domain.periods import Period, parse_period
from pledge.domain.schemas import OFFER_CAMPAIGN, check_document
from pledge.domain.timeutil import LocalDateWindow, format_instant, parse_date, parse_instant, to_us, zone

_CODE = "invalid_campaign"
RENEWAL_PRICE = "list"
AUTO_RENEW = "opt_in"


class CompensationPolicy(StrEnum):
    RATE_PARITY = "rate_parity"
    DIFFERENCE_AS_TIME = "difference_as_time"
    REFUND_AND_REPURCHASE = "refund_and_repurchase"


class OfferType(StrEnum):
    BONUS_PERIOD = "bonus_period"
    INTRO_PRICE = "intro_price"


@dataclass(frozen=True, slots=True)
class BonusPeriod:
    """List price, longer first term: the plan's period plus ``bonus``."""

    bonus: Period

    def canonical(self, currency: str) -> dict[str, Any]:
        return {"type": OfferType.BONUS_PERIOD.value, "bonus": self.bonus.describe()}


@dataclass(frozen=True, slots=True)
class IntroPrice:
    """A campaign price for the plan's first period; ``prices`` is ((plan_id, minor), ...) sorted."""

    prices: tuple[tuple[str, int], ...]

    def price_for(self, plan_id: str) -> int | None:
        return dict(self.prices).get(plan_id)

    def canonical(self, currency: str) -> dict[str, Any]:
        return {
            "type": OfferType.INTRO_PRICE.value,
            "prices": {plan_id: format_minor(minor, currency) for plan_id, minor in self.prices},
        }


Offer = BonusPeriod | IntroPrice


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """One immutable version of an offer campaign."""

    campaign_id: str
    name: str
    timezone: str
    currency: str
    applies_to: tuple[str, ...]  # sorted: reordering the list is not a change
    sale: LocalDateWindow
    effective_us: int
    offer: Offer
    compensation_policy: CompensationPolicy = CompensationPolicy.RATE_PARITY

    def covers(self, plan_id: str, at_us: int) -> bool:
        """Whether a purchase of ``plan_id`` at ``at_us`` gets the offer (plan listed, inside the sale)."""
        return plan_id in self.applies_to and self.sale.contains(at_us)

    def canonical(self) -> dict[str, Any]:
        """The normalized document: what is hashed and stored."""
        return {
            "id": self.campaign_id,
            "name": self.name,
            "kind": "offer",
            "timezone": self.timezone,
            "currency": self.currency,
            "applies_to": list(self.applies_to),
            "sale": {"from": self.sale.first.isoformat(), "to": self.sale.last.isoformat()},
            "renewal": {"price": RENEWAL_PRICE, "auto_renew": AUTO_RENEW},
            "terms": {
                "effective": format_instant(self.effective_us),
                "offer": self.offer.canonical(self.currency),
                "compensation": {"policy": self.compensation_policy.value},
            },
        }

    @property
    def content_hash(self) -> str:
        return terms_hash(self.canonical())


def _local_date(value: object, param: str) -> date:
    # YAML reads an unquoted 2023-11-11 as a date already; a datetime there is a mistake.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise InputError(f"{param}: a local date like 2023-11-11 is required", param=param, code=_CODE)
    return parse_date(value, param=param)


def _instant(value: object, param: str) -> int:
    # YAML reads an unquoted timestamp as a datetime: accept it only with an offset.
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(
                f"{param}: {value.isoformat()!r} has no UTC offset; write it like 2023-10-31T00:00:00+08:00",
                param=param,
                code="naive_instant",
            )
        return to_us(value)
    if not isinstance(value, str):
        raise InputError(
            f"{param}: an instant with offset like 2023-10-31T00:00:00+08:00 is required",
            param=param,
            code="invalid_instant",
        )
    return parse_instant(value, param=param)


def _parse_offer(offer: Mapping[str, Any], applies_to: tuple[str, ...], currency: str) -> Offer:
    kind = offer.get("type")
    if kind == OfferType.BONUS_PERIOD:
        return BonusPeriod(parse_period(offer.get("bonus"), param="terms.offer.bonus"))
    if kind == OfferType.INTRO_PRICE:
        prices = section(offer, "prices", "terms.offer.prices", code=_CODE)
        parsed: dict[str, int] = {}
        for plan_id, price in prices.items():
            param = f"terms.offer.prices.{plan_id}"
            if plan_id not in applies_to:
                raise InputError(
                    f"{param}: plan {plan_id!r} is not in applies_to ({', '.join(applies_to)})",
                    param=param,
                    code=_CODE,
                )
            parsed[plan_id] = money_field(price, currency, param)
        missing = [plan_id for plan_id in applies_to if plan_id not in parsed]
        if missing:
            param = f"terms.offer.prices.{missing[0]}"
            raise InputError(f"{param}: every plan in applies_to needs a price", param=param, code=_CODE)
        return IntroPrice(tuple(sorted(parsed.items())))
    raise InputError(
        f"terms.offer.type: {kind!r} is not one of {', '.join(t.value for t in OfferType)}",
        param="terms.offer.type",
        code=_CODE,
    )


def _policy(terms: Mapping[str, Any]) -> CompensationPolicy:
    section = terms.get("compensation")
    if section is None:
        return CompensationPolicy.RATE_PARITY  # the product's default
    if not isinstance(section, Mapping):
        raise InputError("terms.compensation: a mapping is required", param="terms.compensation", code=_CODE)
    value = section.get("policy", CompensationPolicy.RATE_PARITY.value)
    try:
        return CompensationPolicy(value)
    except ValueError:
        raise InputError(
            f"terms.compensation.policy: {value!r} is not one of "
            f"{', '.join(p.value for p in CompensationPolicy)}",
            param="terms.compensation.policy",
            code=_CODE,
        ) from None


def parse_offer_terms(doc: object) -> OfferTerms:
    """Validate an offer campaign document (as loaded from YAML/JSON) into terms."""
    if not isinstance(doc, Mapping):
        raise InputError("campaign: a mapping is required", param="campaign", code=_CODE)
    check_document(doc, OFFER_CAMPAIGN)
    if doc.get("kind") != "offer":
        raise InputError(f"kind: {doc.get('kind')!r} must be offer here", param="kind", code=_CODE)
    campaign_id = slug_field(doc.get("id"), "id", code=_CODE)
    tz_name = text_field(doc.get("timezone"), "timezone", code=_CODE)
    zone(tz_name)
    currency = text_field(doc.get("currency"), "currency", code=_CODE)
    currency_exponent(currency)
    raw_plans = doc.get("applies_to")
    if not isinstance(raw_plans, list) or not raw_plans:
        raise InputError(
            "applies_to: a non-empty list of plan ids is required", param="applies_to", code=_CODE
        )
    applies_to = [slug_field(p, f"applies_to[{i}]", code=_CODE) for i, p in enumerate(raw_plans)]
    for index, plan_id in enumerate(applies_to):
        if plan_id in applies_to[:index]:
            raise InputError(
                f"applies_to[{index}]: {plan_id!r} is listed twice", param=f"applies_to[{index}]", code=_CODE
            )
    sale = section(doc, "sale", "sale", code=_CODE)
    first, last = _local_date(sale.get("from"), "sale.from"), _local_date(sale.get("to"), "sale.to")
    if last < first:
        raise InputError(
            f"sale.to: {last} is before sale.from {first}", param="sale.to", code="invalid_window"
        )
    renewal = doc.get("renewal", {})
    if not isinstance(renewal, Mapping):
        raise InputError("renewal: a mapping is required", param="renewal", code=_CODE)
    # Only what the product promises: renewal at list price, never auto-renewed without consent.
    for key, allowed in (("price", RENEWAL_PRICE), ("auto_renew", AUTO_RENEW)):
        if renewal.get(key, allowed) != allowed:
            raise InputError(
                f"renewal.{key}: {renewal.get(key)!r} is not supported ({allowed})",
                param=f"renewal.{key}",
                code=_CODE,
            )
    terms = section(doc, "terms", "terms", code=_CODE)
    plans = tuple(sorted(applies_to))
    return OfferTerms(
        campaign_id=campaign_id,
        name=text_field(doc.get("name"), "name", code=_CODE),
        timezone=tz_name,
        currency=currency,
        applies_to=plans,
        sale=LocalDateWindow(first, last, tz_name),
        effective_us=_instant(terms.get("effective"), "terms.effective"),
        offer=_parse_offer(section(terms, "offer", "terms.offer", code=_CODE), plans, currency),
        compensation_policy=_policy(terms),
    )


def check_against_catalog(terms: OfferTerms, catalog: Catalog) -> None:
    """Refuse terms that name unknown plans, another currency, or an intro price not below list."""
    if terms.currency != catalog.currency:
        raise InputError(
            f"currency: the campaign is in {terms.currency} but the catalog in {catalog.currency}",
            param="currency",
            code="currency_mismatch",
        )
    known = set(catalog.plan_ids)
    for index, plan_id in enumerate(terms.applies_to):
        if plan_id not in known:
            raise InputError(
                f"applies_to[{index}]: plan {plan_id!r} is not in the catalog "
                f"({', '.join(catalog.plan_ids)})",
                param=f"applies_to[{index}]",
                code=_CODE,
            )
    if isinstance(terms.offer, IntroPrice):
        for plan_id, price in terms.offer.prices:
            plan = catalog.plan(plan_id)
            if price >= plan.list_price_minor:
                param = f"terms.offer.prices.{plan_id}"
                raise InputError(
                    f"{param}: {format_minor(price, terms.currency)} is not below the list price "
                    f"{format_minor(plan.list_price_minor, plan.currency)}",
                    param=param,
                    code=_CODE,
                )


@dataclass(frozen=True, slots=True)
class OfferTermsVersion:
    """A stored, immutable version of an offer campaign and its four-eyes approval."""

    campaign_id: str
    version: int
    content_hash: str
    terms: OfferTerms
    author: str
    created_at_us: int
    approved_by: str | None = None
    approved_at_us: int | None = None
    approved_hash: str | None = None

    @property
    def approved(self) -> bool:
        # An approval counts only for the exact content it was given for.
        return self.approved_by is not None and self.approved_hash == self.content_hash

    @property
    def effective_us(self) -> int:
        return self.terms.effective_us


def check_offer_approval(version: OfferTermsVersion, approver: str) -> None:
    """Four-eyes, the same rule as for cashback terms."""
    check_approval(version, approver)


def version_in_effect(versions: Iterable[OfferTermsVersion], at_us: int) -> OfferTermsVersion | None:
    """The newest approved version whose ``effective`` instant is at or before ``at_us``, or None.

    Approval is a gate, not a start time: a version approved after its
    effective instant prices quotes from then on, and purchases already made
    keep the version they recorded.
    """
    candidates = [v for v in versions if v.approved and v.effective_us <= at_us]
    return max(candidates, key=lambda v: v.version, default=None)


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of one plan bought at ``starts_at_us`` and what it buys."""

    plan_id: str
    price_minor: int
    list_price_minor: int
    currency: str
    timezone: str  # the zone the calendar months are counted in
    starts_at_us: int
    ends_at_us: int
    first_term: Period
    renewal_price_minor: int
    renewal_period: Period
    terms_version: int | None  # None: list price, no offer
    campaign_id: str | None
    offer_type: OfferType | None
    breakdown: str


def quote(plan: Plan, version: OfferTermsVersion | None, start_us: int, tz_name: str) -> Quote:
    """Price ``plan`` bought at ``start_us`` under ``version`` (None: no campaign).

    The version is used as given (no effective/approval check), so the same
    function prices a purchase now (with :func:`version_in_effect`), a
    repurchase under newer terms, and the "what the new terms would give"
    side of a compensation dry run. It applies only if it covers the plan and
    ``start_us`` is inside its sale window; otherwise the quote is at list
    price. Calendar months are counted in the campaign's zone when an offer
    applies and in ``tz_name`` otherwise. Bonus periods are added to the
    plan's period before moving the date (18 months from the start, not 12
    then 6), so month-end clamping happens once.
    """
    money = plan.currency
    # Auto-renew starts off: the renewal price is what turning it on would cost, not a promise to charge.
    renewal = (
        f"auto-renew is off: it ends then unless you turn auto-renew on, which renews it at "
        f"{format_minor(plan.list_price_minor, money)} {money} every {plan.period}"
    )
    applied = version if version is not None and version.terms.covers(plan.id, start_us) else None
    first_term, price, offer_type = plan.period, plan.list_price_minor, None
    head = f"{format_minor(price, money)} {money} for {first_term}"
    if applied is not None:
        terms = applied.terms
        if terms.currency != plan.currency:
            raise RefusedError(
                f"campaign {terms.campaign_id} is in {terms.currency} but plan {plan.id} in {plan.currency}",
                code="currency_mismatch",
            )
        tz_name = terms.timezone
        if isinstance(terms.offer, BonusPeriod):
            first_term, offer_type = plan.period + terms.offer.bonus, OfferType.BONUS_PERIOD
            head = (
                f"{format_minor(price, money)} {money} for {first_term} "
                f"({plan.period} + {terms.offer.bonus} free)"
            )
        else:
            intro = terms.offer.price_for(plan.id)
            if intro is None:  # parse_offer_terms gives every listed plan a price
                raise RefusedError(f"campaign {terms.campaign_id} has no price for {plan.id}")
            price, offer_type = intro, OfferType.INTRO_PRICE
            head = f"{format_minor(price, money)} {money} for the first {first_term}"
    return Quote(
        plan_id=plan.id,
        price_minor=price,
        list_price_minor=plan.list_price_minor,
        currency=plan.currency,
        timezone=tz_name,
        starts_at_us=start_us,
        ends_at_us=first_term.add_to(start_us, tz_name),
        first_term=first_term,
        renewal_price_minor=plan.list_price_minor,
        renewal_period=plan.period,
        terms_version=None if applied is None else applied.version,
        campaign_id=None if applied is None else applied.campaign_id,
        offer_type=offer_type,
        breakdown=f"{head}; {renewal}",
    )
