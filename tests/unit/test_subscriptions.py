from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.domain.catalog import parse_catalog
from pledge.domain.errors import InputError, InvariantViolation, RefusedError
from pledge.domain.offers import OfferTermsVersion, parse_offer_terms, quote
from pledge.domain.periods import add_days
from pledge.domain.subscriptions import (
    Term,
    TermKind,
    TermState,
    auto_renew_wording,
    full_refund,
    is_due,
    lapse,
    prorate_unused,
    prorated_refund,
    refund_and_repurchase,
    reminder_due_at,
    renew,
    set_auto_renew,
    start_term,
)
from pledge.domain.timeutil import format_instant, parse_instant, zone

SHANGHAI = "Asia/Shanghai"
CATALOG = parse_catalog(
    {
        "currency": "CNY",
        "plans": [
            {"id": "cloud-gold-50gb", "name": "Gold 50GB", "list_price": "72.00", "period": "12 months"},
            {
                "id": "cloud-platinum-200gb",
                "name": "Platinum 200GB",
                "list_price": "252.00",
                "period": "1 year",
            },
            {"id": "cloud-monthly", "name": "Monthly 50GB", "list_price": "7.00", "period": "1 month"},
        ],
    }
)
PLATINUM = CATALOG.plan("cloud-platinum-200gb")
MONTHLY = CATALOG.plan("cloud-monthly")
BOUGHT = parse_instant("2023-11-01T10:00:00+08:00")


def offer_version(number: int, offer: dict[str, Any], effective: str) -> OfferTermsVersion:
    terms = parse_offer_terms(
        {
            "id": "cloud-double-11",
            "name": "Cloud Double 11",
            "kind": "offer",
            "timezone": SHANGHAI,
            "currency": "CNY",
            "applies_to": ["cloud-gold-50gb", "cloud-platinum-200gb"],
            "sale": {"from": "2023-10-31", "to": "2023-11-11"},
            "terms": {"effective": effective, "offer": offer},
        }
    )
    return OfferTermsVersion(terms.campaign_id, number, terms.content_hash, terms, "olivia", 0)


V1 = offer_version(1, {"type": "bonus_period", "bonus": "6 months"}, "2023-10-31T00:00:00+08:00")
V2 = offer_version(
    2,
    {"type": "intro_price", "prices": {"cloud-gold-50gb": "29.00", "cloud-platinum-200gb": "109.00"}},
    "2023-11-02T12:00:00+08:00",
)


def local(us: int, tz: str = SHANGHAI) -> str:
    return format_instant(us, zone(tz))


def platinum_v1() -> Term:
    return start_term("t1", "acct-1", quote(PLATINUM, V1, BOUGHT, SHANGHAI))


def opted_in(term: Term, at_us: int | None = None) -> Term:
    plan = CATALOG.plan(term.plan_id)
    when = term.starts_at_us if at_us is None else at_us
    return set_auto_renew(term, True, "acct-1", when, auto_renew_wording(term, plan))


def test_first_term_records_the_quote() -> None:
    term = platinum_v1()
    assert (term.price_paid_minor, term.list_price_minor, term.terms_version) == (25200, 25200, 1)
    assert (term.kind, term.state, term.auto_renew, term.consent) == (
        TermKind.FIRST,
        TermState.ACTIVE,
        False,
        None,
    )
    assert local(term.ends_at_us) == "2025-05-01T10:00:00+08:00"
    assert term.anchor_us == term.starts_at_us


def test_auto_renew_is_opt_in_with_evidence() -> None:
    term = platinum_v1()
    wording = auto_renew_wording(term, PLATINUM)
    assert "2025-05-01" in wording
    assert "252.00 CNY" in wording
    on = set_auto_renew(term, True, "acct-1", BOUGHT + 5, wording)
    assert on.auto_renew
    assert on.consent is not None
    assert (on.consent.actor, on.consent.at_us, on.consent.wording) == ("acct-1", BOUGHT + 5, wording)
    assert set_auto_renew(on, True, "acct-1", BOUGHT + 99, wording) == on  # first evidence kept
    off = set_auto_renew(on, False, "acct-1", BOUGHT + 100, "")
    assert not off.auto_renew
    assert off.consent is not None
    assert not off.consent.enabled
    with pytest.raises(InputError):
        set_auto_renew(term, True, "acct-1", BOUGHT, "  ")
    with pytest.raises(RefusedError) as caught:
        set_auto_renew(term, True, "acct-1", term.ends_at_us, wording)
    assert caught.value.code == "term_ended"
    with pytest.raises(InvariantViolation, match="consent"):
        replace(term, auto_renew=True)


def test_reminder_is_seven_calendar_days_before_the_end() -> None:
    term = platinum_v1()
    assert local(reminder_due_at(term)) == "2025-04-24T10:00:00+08:00"
    ny = "America/New_York"
    start, end = parse_instant("2023-03-12T10:00:00-04:00"), parse_instant("2024-03-12T10:00:00-04:00")
    across_dst = replace(term, timezone=ny, starts_at_us=start, anchor_us=start, ends_at_us=end)
    reminder = reminder_due_at(across_dst)
    assert local(reminder, ny) == "2024-03-05T10:00:00-05:00"  # same wall time, before the DST change
    assert end - reminder == (7 * 24 - 1) * 3600 * 1_000_000


def test_renewal_is_at_list_price_from_the_old_end_and_only_when_opted_in() -> None:
    term = platinum_v1()
    with pytest.raises(RefusedError) as caught:
        renew(opted_in(term), PLATINUM, term.ends_at_us - 1, "t2")
    assert caught.value.code == "term_not_due"
    with pytest.raises(RefusedError) as caught:
        renew(term, PLATINUM, term.ends_at_us, "t2")
    assert caught.value.code == "auto_renew_off"
    late = term.ends_at_us + 3 * 86_400_000_000  # renew-due ran late: no day lost
    ended, following = renew(opted_in(term), PLATINUM, late, "t2")
    assert ended.state is TermState.RENEWED
    assert (following.price_paid_minor, following.kind, following.terms_version) == (
        25200,
        TermKind.RENEWAL,
        None,
    )
    assert following.starts_at_us == term.ends_at_us
    assert local(following.ends_at_us) == "2026-05-01T10:00:00+08:00"
    assert following.auto_renew
    assert following.previous_term_id == "t1"
    assert following.purchased_at_us == late
    with pytest.raises(RefusedError):
        renew(ended, PLATINUM, late, "t3")


def test_monthly_renewals_keep_the_original_anchor_day() -> None:
    start = parse_instant("2024-01-31T09:00:00+08:00")
    term = opted_in(start_term("m0", "acct-1", quote(MONTHLY, None, start, SHANGHAI)))
    ends = [local(term.ends_at_us)[:10]]
    for n in range(1, 5):
        term = renew(term, MONTHLY, term.ends_at_us, f"m{n}")[1]
        ends.append(local(term.ends_at_us)[:10])
    assert ends == ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]


def test_lapse() -> None:
    term = platinum_v1()
    assert not is_due(term, term.ends_at_us - 1)
    assert is_due(term, term.ends_at_us)
    with pytest.raises(RefusedError):
        lapse(term, term.ends_at_us - 1)
    lapsed = lapse(term, term.ends_at_us)
    assert (lapsed.state, lapsed.closed_at_us) == (TermState.LAPSED, term.ends_at_us)
    assert not is_due(lapsed, term.ends_at_us)


def test_full_refund() -> None:
    term = opted_in(platinum_v1())
    refund = full_refund(term, BOUGHT + 1)
    assert (refund.amount_minor, refund.retained_minor) == (25200, 0)
    assert refund.term.state is TermState.REFUNDED
    assert refund.term.refunded_minor == 25200
    assert not refund.term.auto_renew
    with pytest.raises(RefusedError) as caught:
        full_refund(refund.term, BOUGHT + 2)
    assert caught.value.code == "term_refunded"


def test_prorated_refund_uses_the_price_paid_and_elapsed_time() -> None:
    term = start_term("t1", "acct-1", quote(CATALOG.plan("cloud-gold-50gb"), V2, BOUGHT, SHANGHAI))
    assert term.price_paid_minor == 2900  # not the 72.00 list price
    assert prorated_refund(term, term.starts_at_us - 1).amount_minor == 2900
    assert prorated_refund(term, term.ends_at_us).amount_minor == 0
    half = (term.starts_at_us + term.ends_at_us) // 2
    refund = prorated_refund(term, half)
    assert refund.amount_minor == 1450
    assert refund.amount_minor + refund.retained_minor == 2900


def test_proration_rounds_half_even() -> None:
    assert prorate_unused(1, 1, 2) == 0  # 0.5 -> 0
    assert prorate_unused(3, 1, 2) == 2  # 1.5 -> 2
    assert prorate_unused(5, 1, 2) == 2  # 2.5 -> 2
    assert prorate_unused(100, 1, 3) == 33
    assert prorate_unused(100, 2, 3) == 67


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=1, max_value=10**14),
    st.integers(min_value=-(10**14), max_value=2 * 10**14),
    st.integers(min_value=-(10**14), max_value=2 * 10**14),
)
def test_prorated_refunds_stay_within_the_price_and_sum(
    price: int, length: int, now_a: int, now_b: int
) -> None:
    start = BOUGHT
    term = replace(platinum_v1(), price_paid_minor=price, starts_at_us=start, ends_at_us=start + length)
    early, late = sorted((start + now_a, start + now_b))
    first, second = prorated_refund(term, early), prorated_refund(term, late)
    for refund in (first, second):
        assert 0 <= refund.amount_minor <= price
        assert refund.amount_minor + refund.retained_minor == price
        assert 0 <= refund.unused_us <= refund.total_us == length
    assert first.amount_minor >= second.amount_minor  # waiting never increases the refund


def test_refund_and_repurchase() -> None:
    term = platinum_v1()
    new_quote = quote(PLATINUM, V2, term.starts_at_us, SHANGHAI)
    now = parse_instant("2023-11-05T12:00:00+08:00")
    result = refund_and_repurchase(term, new_quote, now, "t1r")
    assert (result.refunded_minor, result.charged_minor, result.net_refund_minor) == (25200, 10900, 14300)
    assert result.refunded.state is TermState.REFUNDED
    assert result.refunded.reconciled_to_version == 2
    bought = result.term
    assert (bought.kind, bought.terms_version, bought.price_paid_minor) == (TermKind.REPURCHASE, 2, 10900)
    assert bought.starts_at_us == term.starts_at_us
    assert local(bought.ends_at_us) == "2024-11-01T10:00:00+08:00"
    assert (bought.previous_term_id, bought.purchased_at_us) == ("t1", now)
    with pytest.raises(RefusedError):
        refund_and_repurchase(result.refunded, new_quote, now, "t1rr")
    with pytest.raises(RefusedError) as caught:  # the repurchased term itself
        refund_and_repurchase(bought, new_quote, now, "x")
    assert caught.value.code == "already_compensated"
    with pytest.raises(InputError):
        refund_and_repurchase(term, quote(PLATINUM, V2, term.starts_at_us + 1, SHANGHAI), now, "x")
    with pytest.raises(RefusedError) as caught:
        refund_and_repurchase(term, quote(PLATINUM, V1, term.starts_at_us, SHANGHAI), now, "x")
    assert caught.value.code == "not_newer_terms"


def test_repurchase_after_compensation_takes_the_extra_days_back() -> None:
    """The customer's choice stays open after compensation: the money nets P_old - P_new, and the
    300 days compensation added go back with the rest of the old term."""
    term = platinum_v1()
    compensated = replace(
        term,
        ends_at_us=add_days(term.ends_at_us, 300, SHANGHAI),
        compensated_days=300,
        reconciled_to_version=2,
    )
    new_quote = quote(PLATINUM, V2, term.starts_at_us, SHANGHAI)
    result = refund_and_repurchase(compensated, new_quote, parse_instant("2023-12-01T12:00:00+08:00"), "t1r")
    assert (result.refunded_minor, result.charged_minor, result.net_refund_minor) == (25200, 10900, 14300)
    assert (result.days.service, result.days.compensation) == (547, 300)
    assert (result.refunded.compensated_days, result.refunded.reconciled_to_version) == (0, 2)
    assert (result.term.auto_renew, result.term.consent) == (False, None)  # consent named the old end


def test_a_refund_takes_back_unused_compensation_days_first() -> None:
    term = platinum_v1()
    compensated = replace(term, ends_at_us=add_days(term.ends_at_us, 300, SHANGHAI), compensated_days=300)
    late = add_days(term.ends_at_us, 100, SHANGHAI)  # 100 of the 300 extra days used
    refund = full_refund(compensated, late)
    assert (refund.days.service, refund.days.compensation) == (0, 200)
    assert refund.term.compensated_days == 100
    early = full_refund(compensated, add_days(term.starts_at_us, 47, SHANGHAI))
    assert (early.days.service, early.days.compensation) == (500, 300)
