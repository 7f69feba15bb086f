"""One value of an imported row, checked: text, instant, price, currency, region, status.

A value may be text (CSV) or what an Arrow column yields (``str``, ``Decimal``,
an aware ``datetime``, ``int`` for ids). Money never passes through a float: a
float price is refused, not rounded. A bad value raises :class:`FieldError`,
which :mod:`pledge.domain.validation` turns into an error naming the row.

Millions of rows pass through here on an import, so the hot paths avoid
allocations: prices and the fixed-width pieces of instants are memoised (a
file repeats a handful of prices, dates, times of day and offsets).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final

from pledge.domain.errors import InputError, quoted
from pledge.domain.money import CURRENCY_EXPONENTS, INT64_MAX, parse_minor
from pledge.domain.records import PURCHASE_STATUSES
from pledge.domain.timeutil import parse_instant

# Every officially assigned ISO 3166-1 alpha-2 code (249, as in the tz database's
# iso3166.tab). Exceptionally reserved codes (EU, UK, XK...) are refused: a
# region is a rule input, and a code outside the standard is a typo more often
# than not.
_ISO_3166_ALPHA2_TEXT: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
    HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
    LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
    NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
    SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ISO_3166_ALPHA2: Final[frozenset[str]] = frozenset(_ISO_3166_ALPHA2_TEXT.split())

MAX_ID_LENGTH: Final = 128
_STATUSES: Final = frozenset(PURCHASE_STATUSES)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_CACHE_LIMIT: Final = 200_000


class FieldError(Exception):
    """One field is wrong; ``text`` already reads ``field: reason``."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(text)
        self.field = field
        self.text = text


def checked_text(value: object, field: str, *, required: bool = True, limit: int = MAX_ID_LENGTH) -> str:
    """Trimmed printable text of at most ``limit`` characters (an integer id as its decimal form)."""
    if type(value) is str:
        text = value.strip()
    elif value is None:
        text = ""
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)  # Parquet files often hold numeric ids; the id is their decimal form
    else:
        raise FieldError(field, f"{field}: {quoted(value)} is a {type(value).__name__}, not text")
    if not text:
        if required:
            raise FieldError(field, f"{field}: is empty")
        return text
    if len(text) > limit:
        raise FieldError(field, f"{field}: is {len(text)} characters long; at most {limit} are allowed")
    if not text.isprintable():
        raise FieldError(field, f"{field}: {quoted(text)} contains control characters (tab, newline...)")
    return text


# Fixed-width pieces of ``YYYY-MM-DDTHH:MM:SS<offset>`` already seen and proven valid.
_DAYS: dict[str, int] = {}
_TIMES: dict[str, int] = {}
_OFFSETS: dict[str, int] = {}


def _learn(text: str, moment: datetime) -> None:
    """Remember the pieces of a valid instant so the next row with them skips the parser."""
    if not (
        len(text) >= 20
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and text[19] in "Z+-"
        and moment.microsecond == 0
    ):
        return
    offset = moment.utcoffset()
    if offset is None or offset.microseconds or max(len(_DAYS), len(_TIMES), len(_OFFSETS)) > _CACHE_LIMIT:
        return
    _DAYS[text[:10]] = moment.toordinal() - _EPOCH_ORDINAL
    _TIMES[text[11:19]] = moment.hour * 3600 + moment.minute * 60 + moment.second
    _OFFSETS[text[19:]] = offset.days * 86_400 + offset.seconds


def checked_instant(value: object, field: str, *, epoch_us: bool) -> int:
    """Epoch microseconds of an instant that must carry its own UTC offset."""
    if type(value) is str:
        if len(value) >= 20 and value[10] == "T":
            day = _DAYS.get(value[:10])
            seconds = _TIMES.get(value[11:19])
            offset = _OFFSETS.get(value[19:])
            if day is not None and seconds is not None and offset is not None:
                return (day * 86_400 + seconds - offset) * 1_000_000
        if not value.strip():
            raise FieldError(field, f"{field}: is empty")
        try:
            instant_us = parse_instant(value, param=field)
        except InputError as exc:
            raise FieldError(field, exc.message) from None
        if value == value.strip():
            _learn(value, datetime.fromisoformat(value))
        return instant_us
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FieldError(field, f"{field}: {value.isoformat()!r} has no UTC offset")
        return (value - _EPOCH) // _ONE_US
    if epoch_us and type(value) is int:
        return value  # an Arrow timestamp column, already converted to UTC microseconds by the reader
    if value is None:
        raise FieldError(field, f"{field}: is empty")
    raise FieldError(
        field, f"{field}: {quoted(value)} is a {type(value).__name__}, not an ISO 8601 instant with offset"
    )


_PRICES: dict[str, dict[str, int]] = {code: {} for code in CURRENCY_EXPONENTS}


def checked_price(value: object, currency: str) -> int:
    """Minor units of a non-negative price in major units of ``currency`` (already known to be valid)."""
    if type(value) is str:
        known = _PRICES.setdefault(currency, {})
        minor = known.get(value)
        if minor is not None:
            return minor
        if not value.strip():
            raise FieldError("price", "price: is empty")
        if not value.isascii():
            # re's \d would accept other scripts' digits; an amount is plain ASCII.
            raise FieldError("price", f'price: {quoted(value)} is not a decimal amount like "1999.00"')
        try:
            minor = parse_minor(value, currency, param="price")
        except InputError as exc:
            raise FieldError("price", exc.message) from None
        if minor < 0:
            raise FieldError("price", f"price: {quoted(value)} is negative")
        if len(known) < _CACHE_LIMIT:
            known[value] = minor
        return minor
    if isinstance(value, Decimal):
        return _decimal_minor(value, currency)
    if isinstance(value, float):
        raise FieldError(
            "price",
            f"price: {value!r} is a float; money never passes through a float, "
            f'write it as a decimal string like "1999.00" or a decimal column',
        )
    if value is None:
        raise FieldError("price", "price: is empty")
    raise FieldError(
        "price",
        f"price: {quoted(value)} is a {type(value).__name__}, "
        f'not a decimal amount like "1999.00" in major units',
    )


def price_minor(value: object, currency: str) -> int:
    """Minor units of a price (text or Decimal, major units, not negative) in a supported currency."""
    try:
        return checked_price(value, checked_currency(currency))
    except FieldError as bad:
        raise InputError(bad.text, code="invalid_amount", param=bad.field) from None


def _decimal_minor(value: Decimal, currency: str) -> int:
    """Exact minor units of a Decimal; trailing zeros beyond the currency's decimals are fine."""
    exponent = CURRENCY_EXPONENTS[currency]
    sign, digits, power = value.as_tuple()
    if not isinstance(power, int):
        raise FieldError("price", f"price: {value} is not a finite amount")
    if sign and any(digits):
        raise FieldError("price", f"price: '{value}' is negative")
    coefficient = int("".join(map(str, digits)) or "0")
    shift = power + exponent
    minor: int
    if shift >= 0:
        minor = coefficient * 10**shift
    else:
        minor, rest = divmod(coefficient, 10**-shift)
        if rest:
            decimals = -int(value.normalize().as_tuple().exponent)
            raise FieldError(
                "price", f"price: '{value}' has {decimals} decimals but {currency} has {exponent}"
            )
    if minor > INT64_MAX:
        raise FieldError("price", f"price: '{value}' is out of range")
    return minor


def checked_currency(value: object) -> str:
    """A supported ISO 4217 code, written as the standard writes it."""
    text = checked_text(value, "currency")
    if text not in CURRENCY_EXPONENTS:
        hint = (
            f" (write it upper case: {text.upper()})"
            if text.upper() in CURRENCY_EXPONENTS
            else (f" (known: {', '.join(sorted(CURRENCY_EXPONENTS))})")
        )
        raise FieldError("currency", f"currency: {quoted(text)} is not a supported ISO 4217 code{hint}")
    return text


def checked_region(value: object) -> str:
    """An officially assigned ISO 3166-1 alpha-2 code."""
    text = checked_text(value, "region")
    if text not in ISO_3166_ALPHA2:
        if text.upper() in ISO_3166_ALPHA2:
            hint = f"; write it upper case: {text.upper()}"
        else:
            hint = " (two upper-case letters; CN is mainland China, HK, MO and TW are their own codes)"
        raise FieldError("region", f"region: {quoted(text)} is not an ISO 3166-1 alpha-2 country code{hint}")
    return text


def checked_status(value: object) -> str:
    """One of ``PURCHASE_STATUSES``."""
    text = checked_text(value, "status")
    if text not in _STATUSES:
        raise FieldError("status", f"status: {quoted(text)} is not one of {', '.join(PURCHASE_STATUSES)}")
    return text


def raw_id(value: object) -> str:
    """The row's id as far as it can be read, to name the row in an error about another field."""
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)
