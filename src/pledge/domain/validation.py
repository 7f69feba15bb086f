"""Row validation: raw file values in, typed records out, or an error naming row and field.

Pure functions over one row; the file readers stream rows through them. Each
value is checked by :mod:`pledge.domain.row_values`; here a row's values become
a record, and a bad one an error naming the row.

Row numbers are 1-based *data* rows: the header is not counted, so row 1 is the
first line under the header (line 2 of a CSV file).

Every refusal is an :class:`~pledge.domain.errors.InputError` with
``code="invalid_row"``, ``param="row 17: price"`` and a message such as
``purchases.csv row 17 (purchase_id P-000123), price: '19.999' has 3 decimals
but CNY has 2``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from pledge.domain.contacts import CONTACT_COLUMNS, ContactError, email_of, locale_of, phone_of
from pledge.domain.errors import InputError
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS, AccountRecord, PurchaseRecord
from pledge.domain.row_values import (
    FieldError,
    checked_currency,
    checked_instant,
    checked_price,
    checked_region,
    checked_status,
    checked_text,
    raw_id,
)

MAX_ERRORS: Final = 20


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


def purchase_from_fields(
    fields: Sequence[object], row_number: int, source: str = "purchases", *, epoch_us: bool = False
) -> PurchaseRecord:
    """Validate one purchase given its values in ``PURCHASE_COLUMNS`` order (the readers' fast path).

    With ``epoch_us`` an ``int`` ``purchased_at`` is taken as UTC epoch microseconds, which is
    what an Arrow timestamp column becomes; otherwise a number is refused as ambiguous.
    """
    purchase_id, account_id, sku, serial, purchased_at, price, currency, status, channel = fields
    try:
        pid = checked_text(purchase_id, "purchase_id")
        known_currency = checked_currency(currency)
        return PurchaseRecord(
            pid,
            checked_text(account_id, "account_id"),
            checked_text(sku, "sku"),
            checked_text(serial, "serial", required=False),
            checked_instant(purchased_at, "purchased_at", epoch_us=epoch_us),
            checked_price(price, known_currency),
            known_currency,
            checked_status(status),
            checked_text(channel, "channel", required=False),
        )
    except FieldError as bad:
        raise row_error(
            source, row_number, bad.field, bad.text, id_field="purchase_id", row_id=raw_id(purchase_id)
        ) from None


def _contacts(values: Sequence[object]) -> tuple[str, str, str, str]:
    """``email, phone, locale, wechat_openid`` (None where the file has no such column), canonical."""
    email, phone, locale, openid = values
    try:
        return (
            email_of(checked_text(email, "email", required=False, limit=320)),
            phone_of(checked_text(phone, "phone", required=False)),
            locale_of(checked_text(locale, "locale", required=False)),
            checked_text(openid, "wechat_openid", required=False),
        )
    except ContactError as bad:
        field, _, _ = str(bad).partition(":")
        raise FieldError(field, str(bad)) from None


def account_from_fields(
    fields: Sequence[object], row_number: int, source: str = "accounts", *, epoch_us: bool = False
) -> AccountRecord:
    """Validate one account given its values in ``ACCOUNT_COLUMNS`` order (the readers' fast path),
    optionally followed by ``CONTACT_COLUMNS`` (None for a column the file does not have)."""
    account_id, region, registered_at, *contacts = fields
    try:
        return AccountRecord(
            checked_text(account_id, "account_id"),
            checked_region(region),
            checked_instant(registered_at, "registered_at", epoch_us=epoch_us),
            *(_contacts(contacts) if contacts else ()),
        )
    except FieldError as bad:
        raise row_error(
            source, row_number, bad.field, bad.text, id_field="account_id", row_id=raw_id(account_id)
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
