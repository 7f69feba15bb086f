"""Row validation: raw file values in, typed records out, or an error naming row and field.

Pure functions over one row; the file readers stream rows through them. A row
may hold text (CSV) or the Python values an Arrow column yields (``str``,
``Decimal``, an aware ``datetime``, ``int`` for ids). Money never passes
through a float: a float price is refused, not rounded.

Row numbers are 1-based *data* rows: the header is not counted, so row 1 is the
first line under the header (line 2 of a CSV file).

Every refusal is an :class:`~pledge.domain.errors.InputError` with
``code="invalid_row"``, ``param="row 17: price"`` and a message such as
``purchases.csv row 17 (purchase_id P-000123), price: '19.999' has 3 decimals
but CNY has 2``.

Millions of rows pass through here on an import, so the hot paths avoid
allocations: prices and the fixed-width pieces of instants are memoised (a
file repeats a handful of prices, dates, times of day and offsets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final

from pledge.domain.contacts import CONTACT_COLUMNS, ContactError, email_of, locale_of, phone_of
from pledge.domain.errors import InputError, quoted
from pledge.domain.money import CURRENCY_EXPONENTS, INT64_MAX, parse_minor
from pledge.domain.records import (
    ACCOUNT_COLUMNS,
    PURCHASE_COLUMNS,
    PURCHASE_STATUSES,
    AccountRecord,
    PurchaseRecord,
)
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
MAX_ERRORS: Final = 20
_STATUSES: Final = frozenset(PURCHASE_STATUSES)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_CACHE_LIMIT: Final = 200_000


class BadRowsError(InputError):
    """A file refused for one or more bad rows; ``errors`` holds each one (at most ``MAX_ERRORS``)."""

    def __init__(self, errors: Sequence[InputError], *, truncated: bool = False) -> None:
        first = errors[0]
        lines = [first.message]
        if len(errors) > 1:
            lines[0] += f" (and {len(errors) - 1} more below)"
            lines.extend(f"  {error.message}" for error in errors[1:])
        if truncated:
            lines.append(f"  stopped after {MAX_ERRORS} errors; fix these and import again")
        super().__init__("\n".join(lines), code=first.code, param=first.param)
        self.errors = tuple(errors)
        self.truncated = truncated


class _FieldError(Exception):
    """One field is wrong; ``text`` already reads ``field: reason``."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(text)
        self.field = field
        self.text = text


def row_error(
    source: str, row_number: int, field: str, text: str, *, id_field: str = "", row_id: str = ""
) -> InputError:
    """The error for one bad field, in the one format every refusal uses."""
    shown = row_id if len(row_id) <= 40 else row_id[:37] + "..."
    who = f" ({id_field} {shown})" if row_id and field != id_field else ""
    return InputError(
        f"{source} row {row_number}{who}, {text}", code="invalid_row", param=f"row {row_number}: {field}"
    )


# Stored field → the file column it comes from: messages name what the user wrote, never our storage.
_COLUMN_OF: Final = {
    "purchased_at_us": "purchased_at",
    "registered_at_us": "registered_at",
    "price_minor": "price",
    "account_region": "the account's region",
    "account_registered_at_us": "the account's registered_at",
}


def column_of(field: str) -> str:
    """The import column (or plain words) for a stored field name such as ``price_minor``."""
    return _COLUMN_OF.get(field, field)


def duplicate_error(
    source: str, first: tuple[int, tuple[object, ...]], second: tuple[int, tuple[object, ...]]
) -> InputError:
    """Two rows (number, record) share an id (their first field) but differ: name both and what differs."""
    record = second[1]
    names: tuple[str, ...] = getattr(record, "_fields", ())
    id_field = "purchase_id" if isinstance(record, PurchaseRecord) else "account_id"
    differing = [column_of(name) for name, a, b in zip(names, first[1], record, strict=True) if a != b]
    return InputError(
        f"{source} row {second[0]} ({id_field} {record[0]}): same {id_field} as row {first[0]} "
        f"but a different {', '.join(differing)}",
        code="duplicate_id",
        param=f"row {second[0]}: {id_field}",
    )


def check_columns(header: Iterable[str], required: Sequence[str], source: str) -> list[int]:
    """Positions of ``required`` in ``header``; every missing column is named once, for the whole file."""
    names = [str(name).strip().lower() for name in header]
    duplicated = sorted({name for name in names if name in required and names.count(name) > 1})
    if duplicated:
        raise InputError(
            f"{source}: column {', '.join(duplicated)} appears more than once",
            code="invalid_header",
            param=duplicated[0],
        )
    missing = [name for name in required if name not in names]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InputError(
            f"{source}: missing column{plural} {', '.join(missing)} (expected: {', '.join(required)})",
            code="missing_column",
            param=missing[0],
        )
    return [names.index(name) for name in required]


def _text(value: object, field: str, *, required: bool = True, limit: int = MAX_ID_LENGTH) -> str:
    if type(value) is str:
        text = value.strip()
    elif value is None:
        text = ""
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)  # Parquet files often hold numeric ids; the id is their decimal form
    else:
        raise _FieldError(field, f"{field}: {quoted(value)} is a {type(value).__name__}, not text")
    if not text:
        if required:
            raise _FieldError(field, f"{field}: is empty")
        return text
    if len(text) > limit:
        raise _FieldError(field, f"{field}: is {len(text)} characters long; at most {limit} are allowed")
    if not text.isprintable():
        raise _FieldError(field, f"{field}: {quoted(text)} contains control characters (tab, newline...)")
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


def _instant(value: object, field: str, *, epoch_us: bool) -> int:
    """Epoch microseconds of an instant that must carry its own UTC offset."""
    if type(value) is str:
        if len(value) >= 20 and value[10] == "T":
            day = _DAYS.get(value[:10])
            seconds = _TIMES.get(value[11:19])
            offset = _OFFSETS.get(value[19:])
            if day is not None and seconds is not None and offset is not None:
                return (day * 86_400 + seconds - offset) * 1_000_000
        if not value.strip():
            raise _FieldError(field, f"{field}: is empty")
        try:
            instant_us = parse_instant(value, param=field)
        except InputError as exc:
            raise _FieldError(field, exc.message) from None
        if value == value.strip():
            _learn(value, datetime.fromisoformat(value))
        return instant_us
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _FieldError(field, f"{field}: {value.isoformat()!r} has no UTC offset")
        return (value - _EPOCH) // _ONE_US
    if epoch_us and type(value) is int:
        return value  # an Arrow timestamp column, already converted to UTC microseconds by the reader
    if value is None:
        raise _FieldError(field, f"{field}: is empty")
    raise _FieldError(
        field, f"{field}: {quoted(value)} is a {type(value).__name__}, not an ISO 8601 instant with offset"
    )


_PRICES: dict[str, dict[str, int]] = {code: {} for code in CURRENCY_EXPONENTS}


def _price(value: object, currency: str) -> int:
    """Minor units of a non-negative price in major units of ``currency`` (already known to be valid)."""
    if type(value) is str:
        known = _PRICES.setdefault(currency, {})
        minor = known.get(value)
        if minor is not None:
            return minor
        if not value.strip():
            raise _FieldError("price", "price: is empty")
        if not value.isascii():
            # re's \d would accept other scripts' digits; an amount is plain ASCII.
            raise _FieldError("price", f'price: {quoted(value)} is not a decimal amount like "1999.00"')
        try:
            minor = parse_minor(value, currency, param="price")
        except InputError as exc:
            raise _FieldError("price", exc.message) from None
        if minor < 0:
            raise _FieldError("price", f"price: {quoted(value)} is negative")
        if len(known) < _CACHE_LIMIT:
            known[value] = minor
        return minor
    if isinstance(value, Decimal):
        return _decimal_minor(value, currency)
    if isinstance(value, float):
        raise _FieldError(
            "price",
            f"price: {value!r} is a float; money never passes through a float, "
            f'write it as a decimal string like "1999.00" or a decimal column',
        )
    if value is None:
        raise _FieldError("price", "price: is empty")
    raise _FieldError(
        "price",
        f"price: {quoted(value)} is a {type(value).__name__}, "
        f'not a decimal amount like "1999.00" in major units',
    )


def price_minor(value: object, currency: str) -> int:
    """Minor units of a price (text or Decimal, major units, not negative) in a supported currency."""
    try:
        return _price(value, _currency(currency))
    except _FieldError as bad:
        raise InputError(bad.text, code="invalid_amount", param=bad.field) from None


def _decimal_minor(value: Decimal, currency: str) -> int:
    """Exact minor units of a Decimal; trailing zeros beyond the currency's decimals are fine."""
    exponent = CURRENCY_EXPONENTS[currency]
    sign, digits, power = value.as_tuple()
    if not isinstance(power, int):
        raise _FieldError("price", f"price: {value} is not a finite amount")
    if sign and any(digits):
        raise _FieldError("price", f"price: '{value}' is negative")
    coefficient = int("".join(map(str, digits)) or "0")
    shift = power + exponent
    minor: int
    if shift >= 0:
        minor = coefficient * 10**shift
    else:
        minor, rest = divmod(coefficient, 10**-shift)
        if rest:
            decimals = -int(value.normalize().as_tuple().exponent)
            raise _FieldError(
                "price", f"price: '{value}' has {decimals} decimals but {currency} has {exponent}"
            )
    if minor > INT64_MAX:
        raise _FieldError("price", f"price: '{value}' is out of range")
    return minor


def _currency(value: object) -> str:
    text = _text(value, "currency")
    if text not in CURRENCY_EXPONENTS:
        hint = (
            f" (write it upper case: {text.upper()})"
            if text.upper() in CURRENCY_EXPONENTS
            else (f" (known: {', '.join(sorted(CURRENCY_EXPONENTS))})")
        )
        raise _FieldError("currency", f"currency: {quoted(text)} is not a supported ISO 4217 code{hint}")
    return text


def _region(value: object) -> str:
    text = _text(value, "region")
    if text not in ISO_3166_ALPHA2:
        if text.upper() in ISO_3166_ALPHA2:
            hint = f"; write it upper case: {text.upper()}"
        else:
            hint = " (two upper-case letters; CN is mainland China, HK, MO and TW are their own codes)"
        raise _FieldError("region", f"region: {quoted(text)} is not an ISO 3166-1 alpha-2 country code{hint}")
    return text


def _status(value: object) -> str:
    text = _text(value, "status")
    if text not in _STATUSES:
        raise _FieldError("status", f"status: {quoted(text)} is not one of {', '.join(PURCHASE_STATUSES)}")
    return text


def _raw_id(value: object) -> str:
    """The row's id as far as it can be read, to name the row in an error about another field."""
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def purchase_from_fields(
    fields: Sequence[object], row_number: int, source: str = "purchases", *, epoch_us: bool = False
) -> PurchaseRecord:
    """Validate one purchase given its values in ``PURCHASE_COLUMNS`` order (the readers' fast path).

    With ``epoch_us`` an ``int`` ``purchased_at`` is taken as UTC epoch microseconds, which is
    what an Arrow timestamp column becomes; otherwise a number is refused as ambiguous.
    """
    purchase_id, account_id, sku, serial, purchased_at, price, currency, status, channel = fields
    try:
        pid = _text(purchase_id, "purchase_id")
        known_currency = _currency(currency)
        return PurchaseRecord(
            pid,
            _text(account_id, "account_id"),
            _text(sku, "sku"),
            _text(serial, "serial", required=False),
            _instant(purchased_at, "purchased_at", epoch_us=epoch_us),
            _price(price, known_currency),
            known_currency,
            _status(status),
            _text(channel, "channel", required=False),
        )
    except _FieldError as bad:
        raise row_error(
            source, row_number, bad.field, bad.text, id_field="purchase_id", row_id=_raw_id(purchase_id)
        ) from None


def _contacts(values: Sequence[object]) -> tuple[str, str, str, str]:
    """``email, phone, locale, wechat_openid`` (None where the file has no such column), canonical."""
    email, phone, locale, openid = values
    try:
        return (
            email_of(_text(email, "email", required=False, limit=320)),
            phone_of(_text(phone, "phone", required=False)),
            locale_of(_text(locale, "locale", required=False)),
            _text(openid, "wechat_openid", required=False),
        )
    except ContactError as bad:
        field, _, _ = str(bad).partition(":")
        raise _FieldError(field, str(bad)) from None


def account_from_fields(
    fields: Sequence[object], row_number: int, source: str = "accounts", *, epoch_us: bool = False
) -> AccountRecord:
    """Validate one account given its values in ``ACCOUNT_COLUMNS`` order (the readers' fast path),
    optionally followed by ``CONTACT_COLUMNS`` (None for a column the file does not have)."""
    account_id, region, registered_at, *contacts = fields
    try:
        return AccountRecord(
            _text(account_id, "account_id"),
            _region(region),
            _instant(registered_at, "registered_at", epoch_us=epoch_us),
            *(_contacts(contacts) if contacts else ()),
        )
    except _FieldError as bad:
        raise row_error(
            source, row_number, bad.field, bad.text, id_field="account_id", row_id=_raw_id(account_id)
        ) from None


def _ordered(row: Mapping[str, object], columns: Sequence[str], source: str) -> list[object]:
    check_columns(row.keys(), columns, source)
    lowered = {str(key).strip().lower(): value for key, value in row.items()}
    return [lowered[name] for name in columns]


def validate_purchase(
    row: Mapping[str, object], row_number: int, *, source: str = "purchases"
) -> PurchaseRecord:
    """Validate one purchase row (``row_number`` is 1-based, header not counted)."""
    return purchase_from_fields(_ordered(row, PURCHASE_COLUMNS, source), row_number, source)


def validate_account(
    row: Mapping[str, object], row_number: int, *, source: str = "accounts"
) -> AccountRecord:
    """Validate one account row (``row_number`` is 1-based, header not counted)."""
    values = _ordered(row, ACCOUNT_COLUMNS, source)
    lowered = {str(key).strip().lower(): value for key, value in row.items()}
    contacts = [lowered.get(name) for name in CONTACT_COLUMNS]
    return account_from_fields([*values, *contacts], row_number, source)
