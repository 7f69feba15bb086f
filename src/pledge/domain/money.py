"""Money as integer minor units of an ISO 4217 currency.

No float ever touches an amount. Decimal strings are parsed digit by digit;
a string with more fractional digits than the currency has is refused rather
than rounded, because silently dropping a fen is how ledgers stop balancing.
Where rounding is unavoidable (proration, ratios) it happens in
:func:`divide_round_half_even` and the caller says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pledge.domain.errors import InputError, quoted

# Minor-unit exponents of the currencies we format. Unknown codes are refused
# rather than guessed: JPY has 0 decimals, KWD 3, a wrong guess is a 100x error.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "MOP": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "INR": 2,
    "KRW": 0,
    "JPY": 0,
    "KWD": 3,
    "BHD": 3,
}

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_MAX_INTEGER_DIGITS = 19  # INT64_MAX has 19 digits; any longer amount is out of range
_DECIMAL = re.compile(r"^(?P<sign>-?)(?P<int>\d+)(?:\.(?P<frac>\d+))?$")


def currency_exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InputError(
            f"currency {currency!r} is not supported (known: {', '.join(sorted(CURRENCY_EXPONENTS))})",
            code="unknown_currency",
            param="currency",
        ) from None


def parse_minor(text: str, currency: str, *, param: str = "amount") -> int:
    """Parse a decimal string in major units ("1999.00") into integer minor units."""
    exponent = currency_exponent(currency)
    match = _DECIMAL.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InputError(
            f'{param}: {quoted(text)} is not a decimal amount like "1999.00"',
            code="invalid_amount",
            param=param,
        )
    frac = match["frac"] or ""
    if len(match["int"]) > _MAX_INTEGER_DIGITS:  # before int(): thousands of digits cost time, then fail
        raise InputError(f"{param}: {quoted(text)} is out of range", code="invalid_amount", param=param)
    if len(frac) > exponent:
        raise InputError(
            f"{param}: {quoted(text)} has {len(frac)} decimals but {currency} has {exponent}",
            code="invalid_amount",
            param=param,
        )
    minor: int = int(match["int"]) * 10**exponent + int((frac or "0").ljust(exponent, "0") or "0")
    if match["sign"]:
        minor = -minor
    if not INT64_MIN <= minor <= INT64_MAX:
        raise InputError(f"{param}: {quoted(text)} is out of range", code="invalid_amount", param=param)
    return minor


def format_minor(minor: int, currency: str) -> str:
    """Format integer minor units as a plain decimal string ("1999.00"), the JSON form."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    if exponent == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def divide_round_half_even(numerator: int, denominator: int) -> int:
    """Integer division rounded half to even (banker's rounding), exact for any int size."""
    if denominator == 0:
        raise ZeroDivisionError("denominator is zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def ceil_div(numerator: int, denominator: int) -> int:
    """Ceiling of an integer division, exact (no float)."""
    return -((-numerator) // denominator)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in integer minor units of one currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError(f"Money.minor must be int, got {type(self.minor).__name__}")
        currency_exponent(self.currency)
        if not INT64_MIN <= self.minor <= INT64_MAX:
            raise InputError(f"amount {self.minor} is out of the int64 range", code="invalid_amount")

    @classmethod
    def parse(cls, text: str, currency: str, *, param: str = "amount") -> Money:
        return cls(parse_minor(text, currency, param=param), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def format(self) -> str:
        return format_minor(self.minor, self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise InputError(
                f"cannot combine {self.currency} with {other.currency}", code="currency_mismatch"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"
