from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.domain.catalog import parse_catalog
from pledge.domain.compensation import (
    CompensationItem,
    NoCompensation,
    apply_compensation,
    compensate,
    difference_as_time_extra_days,
    rate_parity_extra_days,
)
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.offers import CompensationPolicy, OfferTermsVersion, parse_offer_terms, quote
from pledge.domain.periods import days_between
from pledge.domain.subscriptions import (
    Term,
    TermKind,
    auto_renew_wording,
    full_refund,
    lapse,
    renew,
    set_auto_renew,
    start_term,
)
from pledge.domain.timeutil import first_instant_of, format_instant, parse_instant, zone

SHANGHAI = "Asia/Shanghai"
PLAN_IDS = ["cloud-gold-50gb", "cloud-platinum-200gb", "cloud-diamond-2tb"]
CATALOG = parse_catalog(
    {
        "currency": "CNY",
        "plans": [
            {"id": "cloud-gold-50gb", "name": "Gold 50GB", "list_price": "72.00", "period": "12 months"},
            {
                "id": "cloud-platinum-200gb",
                "name": "Platinum 200GB",
                "list_price": "252.00",
                "period": "12 months",
            },
            {"id": "cloud-diamond-2tb", "name": "Diamond 2TB", "list_price": "816.00", "period": "12 months"},
        ],
    }
)
INTRO = {"cloud-gold-50gb": "29.00", "cloud-platinum-200gb": "109.00", "cloud-diamond-2tb": "239.00"}


def offer_version(
    number: int,
    offer: dict[str, Any],
    *,
    effective: str = "2023-10-31T00:00:00+08:00",
    tz: str = SHANGHAI,
    applies_to: list[str] | None = None,
    policy: str = "rate_parity",
) -> OfferTermsVersion:
    terms = parse_offer_terms(
        {
            "id": "cloud-double-11",
            "name": "Cloud Double 11",
            "kind": "offer",
            "timezone": tz,
            "currency": "CNY",
            "applies_to": applies_to or PLAN_IDS,
            "sale": {"from": "2023-10-31", "to": "2023-11-11"},
            "terms": {"effective": effective, "offer": offer, "compensation": {"policy": policy}},
        }
    )
    return OfferTermsVersion(terms.campaign_id, number, terms.content_hash, terms, "olivia", 0, "frank", 1)


BONUS = {"type": "bonus_period", "bonus": "6 months"}
V1 = offer_version(1, BONUS)
V2 = offer_version(2, {"type": "intro_price", "prices": INTRO}, effective="2023-11-02T12:00:00+08:00")
BOUGHT = parse_instant("2023-11-01T00:00:00+08:00")


def bought_v1(plan_id: str, at_us: int = BOUGHT, version: OfferTermsVersion = V1) -> Term:
    return start_term(f"t-{plan_id}", "acct-1", quote(CATALOG.plan(plan_id), version, at_us, SHANGHAI))


def item_for(term: Term, new: OfferTermsVersion = V2, **kwargs: Any) -> CompensationItem:
    result = compensate(term, V1, new, CATALOG.plan(term.plan_id), **kwargs)
    assert isinstance(result, CompensationItem), result
    return result


def skipped(term: Term, new: OfferTermsVersion = V2, **kwargs: Any) -> str:
    result = compensate(term, V1, new, CATALOG.plan(term.plan_id), **kwargs)
    assert isinstance(result, NoCompensation), result
    return result.reason


def local_day(us: int) -> str:
    return format_instant(us, zone(SHANGHAI))[:10]


# --- the worked example of PRODUCT.md ---------------------------------------------------------


@pytest.mark.parametrize(
    ("plan_id", "extra"),
    [("cloud-gold-50gb", 362), ("cloud-platinum-200gb", 300), ("cloud-diamond-2tb", 703)],
)
@pytest.mark.parametrize(
    "bought", ["2023-11-01T00:00:00+08:00", "2023-11-01T14:37:12+08:00", "2023-11-01T23:59:59+08:00"]
)
def test_worked_example(plan_id: str, extra: int, bought: str) -> None:
    item = item_for(bought_v1(plan_id, parse_instant(bought)))
    assert (item.t_old_days, item.t_new_days, item.extra_days) == (547, 366, extra)
    assert (item.from_version, item.to_version, item.policy) == (1, 2, CompensationPolicy.RATE_PARITY)
    assert local_day(item.old_ends_at_us) == "2025-05-01"
    assert days_between(item.old_ends_at_us, item.new_ends_at_us, SHANGHAI) == extra


def test_worked_example_platinum_numbers_and_explanation() -> None:
    item = item_for(bought_v1("cloud-platinum-200gb"))
    assert (item.p_old_minor, item.p_new_minor) == (25200, 10900)
    assert local_day(item.new_ends_at_us) == "2026-02-25"
    assert item.idempotency_key == "compensation:t-cloud-platinum-200gb"
    assert item.explain() == (
        "Paid 252.00 CNY for 547 days under terms version 1; version 2 gives 366 days for 109.00 CNY; "
        "at that daily rate 252.00 CNY buys 847 days, so 300 days are added: "
        "the subscription now ends 2026-02-25 instead of 2025-05-01."
    )


def test_formulas_on_the_worked_example() -> None:
    assert rate_parity_extra_days(25200, 547, 10900, 366) == 300
    assert rate_parity_extra_days(7200, 547, 2900, 366) == 362
    assert rate_parity_extra_days(81600, 547, 23900, 366) == 703
    assert difference_as_time_extra_days(25200, 10900, 366) == 481  # ceil(143 * 366 / 109)
    assert rate_parity_extra_days(100, 500, 100, 366) == 0  # never negative
    assert difference_as_time_extra_days(100, 200, 366) == 0
    with pytest.raises(InputError):
        rate_parity_extra_days(100, 500, 0, 366)


def test_difference_as_time_policy() -> None:
    term = bought_v1("cloud-platinum-200gb")
    item = item_for(term, policy=CompensationPolicy.DIFFERENCE_AS_TIME)
    assert item.extra_days == 481
    assert "143.00 CNY difference buys 481 days" in item.explain()
    configured = offer_version(2, {"type": "intro_price", "prices": INTRO}, policy="difference_as_time")
    assert item_for(term, configured).extra_days == 481


# --- once, and only for what was bought under the old terms ------------------------------------


def test_apply_once_and_renew_from_the_new_end() -> None:
    term = bought_v1("cloud-platinum-200gb")
    item = item_for(term)
    extended = apply_compensation(term, item)
    assert (extended.ends_at_us, extended.compensated_days, extended.reconciled_to_version) == (
        item.new_ends_at_us,
        300,
        2,
    )
    assert skipped(extended) == "already_compensated"
    with pytest.raises(RefusedError) as caught:
        apply_compensation(extended, item)
    assert caught.value.code == "already_compensated"
    with pytest.raises(RefusedError) as caught:
        apply_compensation(replace(term, ends_at_us=term.ends_at_us + 1), item)
    assert caught.value.code == "stale_compensation"
    plan = CATALOG.plan(term.plan_id)
    opted = set_auto_renew(extended, True, "acct-1", BOUGHT, auto_renew_wording(extended, plan))
    _, following = renew(opted, plan, extended.ends_at_us, "t2")
    assert local_day(following.ends_at_us) == "2027-02-25"  # the anchor moved with the extra days
    assert following.kind is TermKind.RENEWAL
    assert skipped(following) == "not_this_campaign"  # a renewal is at list price, under no offer


def test_who_gets_nothing_and_why() -> None:
    term = bought_v1("cloud-gold-50gb")
    assert skipped(bought_v1("cloud-gold-50gb", version=V2)) == "bought_under_new_terms"
    after_sale = parse_instant("2023-12-01T00:00:00+08:00")
    assert skipped(bought_v1("cloud-gold-50gb", after_sale)) == "not_this_campaign"
    plan = CATALOG.plan("cloud-gold-50gb")
    refunded = full_refund(term, BOUGHT + 1).term
    assert skipped(refunded) == "refunded"
    opted = set_auto_renew(term, True, "acct-1", BOUGHT, auto_renew_wording(term, plan))
    ended, renewal = renew(opted, plan, term.ends_at_us, "t2")
    assert skipped(ended) == "term_ended"
    assert skipped(renewal) == "not_this_campaign"
    assert skipped(replace(renewal, campaign_id="cloud-double-11", terms_version=1)) == "not_first_term"
    assert skipped(lapse(term, term.ends_at_us)) == "term_ended"
    assert skipped(term, policy=CompensationPolicy.REFUND_AND_REPURCHASE) == "customer_choice"
    gold_only = offer_version(
        2, {"type": "intro_price", "prices": {"cloud-gold-50gb": "29.00"}}, applies_to=["cloud-gold-50gb"]
    )
    assert skipped(bought_v1("cloud-diamond-2tb"), gold_only) == "not_covered_by_new_terms"
    smaller_bonus = offer_version(2, {"type": "bonus_period", "bonus": "3 months"})
    assert skipped(term, smaller_bonus) == "no_difference"


def test_absurd_compensation_is_refused() -> None:
    typo = offer_version(2, {"type": "intro_price", "prices": {**INTRO, "cloud-diamond-2tb": "0.01"}})
    with pytest.raises(RefusedError) as caught:
        compensate(bought_v1("cloud-diamond-2tb"), V1, typo, CATALOG.plan("cloud-diamond-2tb"))
    assert caught.value.code == "compensation_too_large"


def test_misuse_is_an_input_error() -> None:
    term = bought_v1("cloud-gold-50gb")
    with pytest.raises(InputError):
        compensate(term, V2, V1, CATALOG.plan("cloud-gold-50gb"))
    with pytest.raises(InputError):
        compensate(term, V1, V2, CATALOG.plan("cloud-diamond-2tb"))
    v3 = offer_version(3, {"type": "intro_price", "prices": INTRO})
    with pytest.raises(InputError):
        compensate(term, V2, v3, CATALOG.plan("cloud-gold-50gb"))  # bought under v1, not v2


# --- properties ----------------------------------------------------------------------------------

positive = st.integers(min_value=1, max_value=10**9)
days = st.integers(min_value=0, max_value=100_000)


@given(positive, days, positive, st.integers(min_value=1, max_value=100_000))
def test_rate_parity_reaches_the_new_daily_rate_and_no_more(
    p_old: int, t_old: int, p_new: int, t_new: int
) -> None:
    extra = rate_parity_extra_days(p_old, t_old, p_new, t_new)
    assert extra >= 0
    # P_old / (T_old + extra) <= P_new / T_new, in integers
    assert p_old * t_new <= p_new * (t_old + extra) or t_old + extra == 0
    if extra > 0:  # one day fewer would leave the customer above the new rate
        assert p_old * t_new > p_new * (t_old + extra - 1)


@given(positive, positive, st.integers(min_value=1, max_value=100_000))
def test_difference_as_time_is_the_ceiling_of_the_formula(p_old: int, p_new: int, t_new: int) -> None:
    extra = difference_as_time_extra_days(p_old, p_new, t_new)
    assert extra >= 0
    if p_old <= p_new:
        assert extra == 0
    else:
        assert extra * p_new >= (p_old - p_new) * t_new > (extra - 1) * p_new


@given(
    st.sampled_from(PLAN_IDS),
    st.integers(min_value=0, max_value=12 * 86_400_000_000 - 1),
    st.integers(min_value=2000, max_value=7199),
    st.sampled_from(
        [SHANGHAI, "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo"]
    ),
    st.sampled_from(list(CompensationPolicy)[:2]),
)
def test_compensation_never_shortens_and_matches_its_numbers(
    plan_id: str, offset_us: int, intro_minor: int, tz: str, policy: CompensationPolicy
) -> None:
    v1 = offer_version(1, BONUS, tz=tz)
    price = f"{intro_minor // 100}.{intro_minor % 100:02d}"  # below every list price
    v2 = offer_version(2, {"type": "intro_price", "prices": dict.fromkeys(PLAN_IDS, price)}, tz=tz)
    at = first_instant_of(date(2023, 10, 31), zone(tz)) + offset_us
    term = start_term("t", "a", quote(CATALOG.plan(plan_id), v1, at, tz))
    result = compensate(term, v1, v2, CATALOG.plan(plan_id), policy)
    if isinstance(result, NoCompensation):  # e.g. Gold at 60.00: 547 days for 72.00 already beats it
        assert result.reason == "no_difference"
        t_old = days_between(term.starts_at_us, term.ends_at_us, tz)
        t_new = days_between(at, CATALOG.plan(plan_id).period.add_to(at, tz), tz)
        assert policy is CompensationPolicy.RATE_PARITY  # a lower price is always worth some days
        assert rate_parity_extra_days(term.price_paid_minor, t_old, intro_minor, t_new) == 0
        return
    assert result.extra_days > 0
    assert result.new_ends_at_us > result.old_ends_at_us == term.ends_at_us
    assert days_between(result.old_ends_at_us, result.new_ends_at_us, tz) == result.extra_days
    assert result.p_new_minor == intro_minor
    if policy is CompensationPolicy.RATE_PARITY:
        assert result.p_old_minor * result.t_new_days <= result.p_new_minor * (
            result.t_old_days + result.extra_days
        )
    extended = apply_compensation(term, result)
    assert extended.ends_at_us >= term.ends_at_us
