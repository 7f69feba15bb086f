from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from pledge.domain.catalog import catalog_changes, parse_catalog
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.domain.offers import (
    CompensationPolicy,
    OfferTermsVersion,
    OfferType,
    check_against_catalog,
    check_offer_approval,
    parse_offer_terms,
    quote,
    version_in_effect,
)
from pledge.domain.periods import Period
from pledge.domain.timeutil import format_instant, parse_instant, zone

PLANS: dict[str, Any] = {
    "currency": "CNY",
    "plans": [
        {"id": "cloud-gold-50gb", "name": "Gold 50GB", "list_price": "72.00", "period": "12 months"},
        {"id": "cloud-platinum-200gb", "name": "Platinum 200GB", "list_price": "252.00", "period": "1 year"},
        {"id": "cloud-diamond-2tb", "name": "Diamond 2TB", "list_price": "816.00", "period": "12 months"},
    ],
}

V1: dict[str, Any] = {
    "id": "cloud-double-11",
    "name": "Cloud Double 11",
    "kind": "offer",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "applies_to": ["cloud-gold-50gb", "cloud-platinum-200gb", "cloud-diamond-2tb"],
    "sale": {"from": "2023-10-31", "to": "2023-11-11"},
    "renewal": {"price": "list", "auto_renew": "opt_in"},
    "terms": {
        "effective": "2023-10-31T00:00:00+08:00",
        "offer": {"type": "bonus_period", "bonus": "6 months"},
    },
}


def v2_doc() -> dict[str, Any]:
    doc = copy.deepcopy(V1)
    doc["terms"] = {
        "effective": "2023-11-02T12:00:00+08:00",
        "offer": {
            "type": "intro_price",
            "prices": {
                "cloud-gold-50gb": "29.00",
                "cloud-platinum-200gb": "109.00",
                "cloud-diamond-2tb": "239.00",
            },
        },
        "compensation": {"policy": "rate_parity"},
    }
    return doc


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return doc


def version(doc: dict[str, Any], number: int, *, approved: bool = True) -> OfferTermsVersion:
    terms = parse_offer_terms(doc)
    return OfferTermsVersion(
        campaign_id=terms.campaign_id,
        version=number,
        content_hash=terms.content_hash,
        terms=terms,
        author="olivia",
        created_at_us=0,
        approved_by="frank" if approved else None,
        approved_at_us=1 if approved else None,
        approved_hash=terms.content_hash if approved else None,
    )


CATALOG = parse_catalog(PLANS)
SHANGHAI = "Asia/Shanghai"


def local(us: int) -> str:
    return format_instant(us, zone(SHANGHAI))


# --- catalog ---------------------------------------------------------------------------------


def test_catalog_parses_and_canonicalises() -> None:
    gold = CATALOG.plan("cloud-gold-50gb")
    assert (gold.list_price_minor, gold.currency, gold.period) == (7200, "CNY", Period(12))
    assert CATALOG.plan("cloud-platinum-200gb").period == Period(12)
    assert CATALOG.canonical()["plans"][1]["period"] == "12 months"
    assert CATALOG.plan_ids == ("cloud-gold-50gb", "cloud-platinum-200gb", "cloud-diamond-2tb")


def test_catalog_hash_is_stable_and_changes_with_content() -> None:
    again = parse_catalog(copy.deepcopy(PLANS))
    assert again.content_hash == CATALOG.content_hash
    assert catalog_changes(CATALOG, again) == []
    reworded = changed(PLANS, "plans.1.period", "12 months")  # same meaning, same version
    assert parse_catalog(reworded).content_hash == CATALOG.content_hash
    dearer = parse_catalog(changed(PLANS, "plans.0.list_price", "79.00"))
    assert dearer.content_hash != CATALOG.content_hash
    assert catalog_changes(CATALOG, dearer) == ["changed cloud-gold-50gb: list_price"]
    assert catalog_changes(None, CATALOG) == [f"added {p}" for p in CATALOG.plan_ids]
    fewer = copy.deepcopy(PLANS)
    fewer["plans"].pop()
    assert catalog_changes(CATALOG, parse_catalog(fewer)) == ["removed cloud-diamond-2tb"]


@pytest.mark.parametrize(
    ("path", "value", "param"),
    [
        ("plans.1.list_price", 252.0, "plans[1].list_price"),
        ("plans.1.list_price", "252.001", "plans[1].list_price"),
        ("plans.1.list_price", "0.00", "plans[1].list_price"),
        ("plans.1.list_price", "-1.00", "plans[1].list_price"),
        ("plans.2.period", "forever", "plans[2].period"),
        ("plans.0.id", "Gold 50GB", "plans[0].id"),
        ("plans.2.id", "cloud-gold-50gb", "plans[2].id"),
        ("plans.0.name", "", "plans[0].name"),
        ("plans.0.colour", "gold", "plans[0].colour"),
        ("currency", "XYZ", "currency"),
        ("plans", [], "plans"),
        ("owner", "me", "owner"),
    ],
)
def test_catalog_refusals_name_the_row_and_field(path: str, value: Any, param: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_catalog(changed(PLANS, path, value))
    assert caught.value.param == param
    assert param in caught.value.message


def test_unknown_plan_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="cloud-silver"):
        CATALOG.plan("cloud-silver")


# --- offer terms -----------------------------------------------------------------------------


def test_offer_terms_parse() -> None:
    v1 = parse_offer_terms(V1)
    assert v1.effective_us == parse_instant("2023-10-31T00:00:00+08:00")
    assert v1.compensation_policy is CompensationPolicy.RATE_PARITY  # the default
    assert v1.applies_to == tuple(sorted(V1["applies_to"]))
    v2 = parse_offer_terms(v2_doc())
    assert v2.offer.canonical("CNY")["prices"]["cloud-platinum-200gb"] == "109.00"
    assert v1.content_hash != v2.content_hash
    assert parse_offer_terms(copy.deepcopy(V1)).content_hash == v1.content_hash
    reordered = changed(V1, "applies_to", list(reversed(V1["applies_to"])))
    assert parse_offer_terms(reordered).content_hash == v1.content_hash
    check_against_catalog(v1, CATALOG)
    check_against_catalog(v2, CATALOG)


def test_yaml_native_dates_and_timestamps_are_accepted_with_an_offset() -> None:
    doc = changed(V1, "sale.from", date(2023, 10, 31))
    shanghai = timezone(timedelta(hours=8))
    doc = changed(doc, "terms.effective", datetime(2023, 10, 31, tzinfo=shanghai))
    assert parse_offer_terms(doc).content_hash == parse_offer_terms(V1).content_hash
    with pytest.raises(InputError) as caught:
        parse_offer_terms(changed(V1, "terms.effective", datetime(2023, 10, 31)))
    assert caught.value.param == "terms.effective"


@pytest.mark.parametrize(
    ("path", "value", "param"),
    [
        ("kind", "cashback", "kind"),
        ("id", "Double 11!", "id"),
        ("timezone", "CST", "timezone"),
        ("applies_to", [], "applies_to"),
        ("applies_to.1", "cloud-gold-50gb", "applies_to[1]"),
        ("sale.to", "2023-10-01", "sale.to"),
        ("sale.from", "31/10/2023", "sale.from"),
        ("renewal.price", "intro", "renewal.price"),
        ("renewal.auto_renew", "on", "renewal.auto_renew"),
        ("terms.effective", "2023-10-31T00:00:00", "terms.effective"),
        ("terms.effective", ..., "terms.effective"),
        ("terms.offer.type", "discount", "terms.offer.type"),
        ("terms.offer.bonus", "half a year", "terms.offer.bonus"),
        ("terms.offer.gift", "mug", "terms.offer.gift"),
        ("terms.compensation", {"policy": "hope"}, "terms.compensation.policy"),
        ("terms.colour", "red", "terms.colour"),
    ],
)
def test_offer_refusals_name_the_field(path: str, value: Any, param: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_offer_terms(changed(V1, path, value))
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("prices", "param"),
    [
        (
            {"cloud-gold-50gb": "29.00", "cloud-platinum-200gb": "109.00"},
            "terms.offer.prices.cloud-diamond-2tb",
        ),
        (
            {"cloud-gold-50gb": 29.0, "cloud-platinum-200gb": "109.00", "cloud-diamond-2tb": "239.00"},
            "terms.offer.prices.cloud-gold-50gb",
        ),
        (
            {
                "cloud-gold-50gb": "29.00",
                "cloud-platinum-200gb": "109.00",
                "cloud-diamond-2tb": "239.00",
                "cloud-silver": "1.00",
            },
            "terms.offer.prices.cloud-silver",
        ),
    ],
)
def test_intro_price_refusals(prices: dict[str, Any], param: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_offer_terms(changed(v2_doc(), "terms.offer.prices", prices))
    assert caught.value.param == param


def test_catalog_cross_checks() -> None:
    unknown = parse_offer_terms(changed(V1, "applies_to", ["cloud-gold-50gb", "cloud-silver"]))
    with pytest.raises(InputError) as caught:
        check_against_catalog(unknown, CATALOG)
    assert caught.value.param == "applies_to[1]"
    dear = parse_offer_terms(changed(v2_doc(), "terms.offer.prices.cloud-gold-50gb", "72.00"))
    with pytest.raises(InputError, match="not below the list price"):
        check_against_catalog(dear, CATALOG)
    usd = parse_offer_terms(changed(V1, "currency", "USD"))
    with pytest.raises(InputError, match="currency"):
        check_against_catalog(usd, CATALOG)


# --- versions --------------------------------------------------------------------------------


def test_version_in_effect_is_the_newest_approved_effective_one() -> None:
    v1, v2 = version(V1, 1), version(v2_doc(), 2)
    before = parse_instant("2023-10-30T23:59:59+08:00")
    during_v1 = parse_instant("2023-11-01T00:00:00+08:00")
    during_v2 = parse_instant("2023-11-02T12:00:00+08:00")
    assert version_in_effect([v1, v2], before) is None
    assert version_in_effect([v2, v1], during_v1) == v1
    assert version_in_effect([v1, v2], during_v2) == v2
    unapproved = version(v2_doc(), 2, approved=False)
    assert version_in_effect([v1, unapproved], during_v2) == v1
    # an approval given for other content does not count
    stale = OfferTermsVersion(**{**_fields(v2), "approved_hash": "sha256:other"})
    assert not stale.approved
    assert version_in_effect([v1, stale], during_v2) == v1


def _fields(v: OfferTermsVersion) -> dict[str, Any]:
    return {name: getattr(v, name) for name in OfferTermsVersion.__dataclass_fields__}


def test_four_eyes() -> None:
    draft = version(v2_doc(), 2, approved=False)
    with pytest.raises(RefusedError) as caught:
        check_offer_approval(draft, "olivia")
    assert caught.value.code == "four_eyes"
    check_offer_approval(draft, "frank")
    with pytest.raises(RefusedError, match="already approved"):
        check_offer_approval(version(v2_doc(), 2), "grace")


# --- quotes ----------------------------------------------------------------------------------

BOUGHT = parse_instant("2023-11-01T00:00:00+08:00")


def test_bonus_period_quote() -> None:
    q = quote(CATALOG.plan("cloud-platinum-200gb"), version(V1, 1), BOUGHT, "UTC")
    assert (q.price_minor, q.currency, q.terms_version, q.offer_type) == (
        25200,
        "CNY",
        1,
        OfferType.BONUS_PERIOD,
    )
    assert q.first_term == Period(18)
    assert local(q.ends_at_us) == "2025-05-01T00:00:00+08:00"
    assert q.timezone == SHANGHAI  # the campaign's zone, not the fallback
    assert q.renewal_price_minor == 25200
    assert q.breakdown == (
        "252.00 CNY for 18 months (12 months + 6 months free); auto-renew is off: it ends then unless "
        "you turn auto-renew on, which renews it at 252.00 CNY every 12 months"
    )


def test_intro_price_quote() -> None:
    q = quote(CATALOG.plan("cloud-gold-50gb"), version(v2_doc(), 2), BOUGHT, "UTC")
    assert (q.price_minor, q.list_price_minor, q.renewal_price_minor) == (2900, 7200, 7200)
    assert (q.terms_version, q.campaign_id, q.offer_type) == (2, "cloud-double-11", OfferType.INTRO_PRICE)
    assert local(q.ends_at_us) == "2024-11-01T00:00:00+08:00"
    assert q.breakdown == (
        "29.00 CNY for the first 12 months; auto-renew is off: it ends then unless you turn auto-renew "
        "on, which renews it at 72.00 CNY every 12 months"
    )


def test_no_offer_outside_the_sale_or_the_plan_list() -> None:
    v1 = version(V1, 1)
    after_sale = parse_instant("2023-11-11T16:00:00Z")  # 00:00 on 11-12 in Shanghai
    last_second = parse_instant("2023-11-11T23:59:59+08:00")
    gold = CATALOG.plan("cloud-gold-50gb")
    assert quote(gold, v1, last_second, SHANGHAI).terms_version == 1
    q = quote(gold, v1, after_sale, SHANGHAI)
    assert (q.price_minor, q.terms_version, q.campaign_id, q.offer_type) == (7200, None, None, None)
    assert q.first_term == Period(12)
    assert q.breakdown.startswith("72.00 CNY for 12 months; auto-renew is off")
    assert q.breakdown.endswith("renews it at 72.00 CNY every 12 months")
    only_gold = version(changed(V1, "applies_to", ["cloud-gold-50gb"]), 1)
    assert quote(CATALOG.plan("cloud-diamond-2tb"), only_gold, BOUGHT, SHANGHAI).terms_version is None
    plain = quote(gold, None, parse_instant("2024-01-31T00:00:00Z"), "UTC")
    assert format_instant(plain.ends_at_us) == "2025-01-31T00:00:00Z"
