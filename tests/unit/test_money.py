from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.domain.errors import InputError
from pledge.domain.money import (
    CURRENCY_EXPONENTS,
    INT64_MAX,
    INT64_MIN,
    Money,
    ceil_div,
    divide_round_half_even,
    format_minor,
    parse_minor,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX), currencies)
def test_format_then_parse_is_identity(minor: int, currency: str) -> None:
    assert parse_minor(format_minor(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1999.00", "CNY", 199900),
        ("1999", "CNY", 199900),
        ("1999.5", "CNY", 199950),
        ("0.01", "CNY", 1),
        ("-0.05", "CNY", -5),
        ("1999", "JPY", 1999),
        ("1.234", "KWD", 1234),
    ],
)
def test_parse_examples(text: str, currency: str, minor: int) -> None:
    assert parse_minor(text, currency) == minor


@pytest.mark.parametrize("text", ["19.999", "1e3", "1,999.00", "", " ", "abc", "1999.", ".5", "NaN", "inf"])
def test_parse_refuses_with_field_name(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_minor(text, "CNY", param="price")
    assert "price" in caught.value.message
    assert caught.value.param == "price"


def test_more_decimals_than_the_currency_is_refused_not_rounded() -> None:
    with pytest.raises(InputError, match="3 decimals but CNY has 2"):
        parse_minor("19.999", "CNY")
    with pytest.raises(InputError, match="JPY has 0"):
        parse_minor("100.5", "JPY")


def test_out_of_int64_range_is_refused() -> None:
    with pytest.raises(InputError, match="out of range"):
        parse_minor("92233720368547758.08", "CNY")
    for digits in (20, 5_000, 100_000):  # thousands of digits: refused before int() is tried
        with pytest.raises(InputError, match="out of range") as caught:
            parse_minor("9" * digits, "JPY")
        assert len(caught.value.message) < 120
    assert parse_minor("9223372036854775807", "JPY") == 9223372036854775807


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(InputError, match="not supported"):
        Money(1, "XXX")


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(1.0, "CNY")  # type: ignore[arg-type]  # the refusal is under test
    with pytest.raises(InputError, match="cannot combine"):
        Money(1, "CNY") + Money(1, "USD")
    assert Money(150, "CNY") + Money(50, "CNY") == Money(200, "CNY")
    assert str(Money(199900, "CNY")) == "1999.00 CNY"
    assert Money(5, "CNY").min(Money(3, "CNY")) == Money(3, "CNY")


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12))
def test_half_even_division_is_within_half_and_ties_go_even(numerator: int, denominator: int) -> None:
    q = divide_round_half_even(numerator, denominator)
    error = abs(q * denominator - numerator) * 2
    assert error <= denominator
    if error == denominator:
        assert q % 2 == 0


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12))
def test_ceil_div_is_exact(numerator: int, denominator: int) -> None:
    q = ceil_div(numerator, denominator)
    assert q * denominator >= numerator > (q - 1) * denominator


def test_rate_parity_example_from_the_product() -> None:
    # Platinum: ceil(252 * 366 / 109) = 847 days (PRODUCT.md worked example).
    assert ceil_div(252 * 366, 109) == 847
