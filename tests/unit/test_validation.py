"""Row validation: every refusal names the row, the id and the field, and money never meets a float."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.domain.errors import InputError
from pledge.domain.money import CURRENCY_EXPONENTS, format_minor
from pledge.domain.records import PURCHASE_COLUMNS, AccountRecord, PurchaseRecord
from pledge.domain.row_values import ISO_3166_ALPHA2, price_minor
from pledge.domain.timeutil import parse_instant, to_us
from pledge.domain.validation import (
    MAX_ERRORS,
    BadRowsError,
    check_columns,
    purchase_from_fields,
    validate_account,
    validate_purchase,
)

ROW: dict[str, object] = {
    "purchase_id": "P-000123",
    "account_id": "A0000001",
    "sku": "mi-1",
    "serial": "869000000020264",
    "purchased_at": "2011-12-07T23:59:59+08:00",
    "price": "1999.00",
    "currency": "CNY",
    "status": "completed",
    "channel": "mi.com",
}


def refusal(row_number: int = 17, changes: dict[str, object] | None = None, **more: object) -> InputError:
    with pytest.raises(InputError) as caught:
        validate_purchase({**ROW, **(changes or {}), **more}, row_number, source="purchases.csv")
    return caught.value


def test_a_valid_row_becomes_a_record() -> None:
    record = validate_purchase(ROW, 1)
    assert record == PurchaseRecord(
        "P-000123",
        "A0000001",
        "mi-1",
        "869000000020264",
        parse_instant("2011-12-07T23:59:59+08:00"),
        199900,
        "CNY",
        "completed",
        "mi.com",
    )


def test_the_message_names_file_row_id_field_and_reason() -> None:
    error = refusal(price="19.999")
    assert error.code == "invalid_row"
    assert error.param == "row 17: price"
    assert (
        error.message
        == "purchases.csv row 17 (purchase_id P-000123), price: '19.999' has 3 decimals but CNY has 2"
    )


def test_a_naive_instant_is_refused() -> None:
    error = refusal(purchased_at="2011-12-07 10:00")
    assert error.param == "row 17: purchased_at"
    assert "row 17" in error.message
    assert "purchased_at: '2011-12-07 10:00' has no UTC offset" in error.message


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("price", 19.99, "is a float"),
        ("price", 1999, "not a decimal amount"),
        ("price", "-1.00", "is negative"),
        ("price", Decimal("-1"), "is negative"),
        ("price", Decimal("19.999"), "has 3 decimals but CNY has 2"),
        ("price", "", "is empty"),
        ("price", "1,999.00", "not a decimal amount"),
        ("price", "١٩٩٩", "not a decimal amount"),
        ("currency", "cny", "write it upper case: CNY"),
        ("currency", "XYZ", "not a supported"),
        ("status", "Completed", "not one of completed, returned, refunded, cancelled"),
        ("purchase_id", "   ", "is empty"),
        ("account_id", "A" * 129, "at most 128"),
        ("sku", "mi\t1", "control characters"),
        ("sku", None, "is empty"),
        ("purchased_at", datetime(2011, 12, 7, 10), "has no UTC offset"),
        ("purchased_at", 1323273599000000, "not an ISO 8601 instant"),
        ("purchased_at", "2011-12-07", "has no UTC offset"),
        ("purchased_at", "yesterday+08:00", "instant"),
        ("purchased_at", "", "is empty"),
    ],
)
def test_each_bad_field_is_named(field: str, value: object, reason: str) -> None:
    error = refusal(changes={field: value})
    assert error.param == f"row 17: {field}"
    assert reason in error.message
    assert error.message.startswith("purchases.csv row 17")


def test_the_row_id_is_omitted_when_it_is_the_bad_field() -> None:
    assert refusal(purchase_id="").message == "purchases.csv row 17, purchase_id: is empty"


def test_decimal_values_are_exact() -> None:
    assert validate_purchase({**ROW, "price": Decimal("1999.00")}, 1).price_minor == 199900
    assert validate_purchase({**ROW, "price": Decimal("1999.000")}, 1).price_minor == 199900
    assert (
        validate_purchase({**ROW, "price": Decimal("12345678901234567.89")}, 1).price_minor
        == 1234567890123456789
    )
    assert validate_purchase({**ROW, "price": "0"}, 1).price_minor == 0
    assert validate_purchase({**ROW, "price": " 5 ", "currency": "JPY"}, 1).price_minor == 5
    assert validate_purchase({**ROW, "price": "1.234", "currency": "KWD"}, 1).price_minor == 1234


def test_optional_fields_may_be_empty_and_text_is_stripped() -> None:
    record = validate_purchase({**ROW, "serial": "", "channel": None, "purchase_id": "  P1 "}, 1)
    assert (record.serial, record.channel, record.purchase_id) == ("", "", "P1")


def test_numeric_ids_are_their_decimal_text() -> None:
    assert validate_purchase({**ROW, "purchase_id": 123}, 1).purchase_id == "123"
    assert refusal(purchase_id=True).param == "row 17: purchase_id"


def test_aware_datetimes_are_accepted() -> None:
    moment = datetime(2011, 12, 7, 23, 59, 59, tzinfo=timezone(timedelta(hours=8)))
    assert validate_purchase({**ROW, "purchased_at": moment}, 1).purchased_at_us == to_us(moment)


@pytest.mark.parametrize(
    "text",
    [
        "2011-12-07T23:59:59+08:00",
        "2011-12-07T15:59:59Z",
        "2011-12-07T10:59:59-05:00",
        "2011-12-08T00:59:59+09:00",
        "2011-12-07T23:59:59+0800",
        "2011-12-07T23:59:59.000+08:00",
        " 2011-12-07T23:59:59+08:00 ",
    ],
)
def test_every_offset_form_reads_the_same_instant(text: str) -> None:
    assert validate_purchase({**ROW, "purchased_at": text}, 1).purchased_at_us == 1323273599000000


def test_remembered_pieces_never_let_a_bad_instant_through() -> None:
    validate_purchase(ROW, 1)  # teaches the fast path 2011-12-07, 23:59:59 and +08:00
    for bad in ("2011-12-07T23:59:59+08:00x", "2011-12-07X23:59:59+08:00", "2011-12-07T23:59:59"):
        assert refusal(purchased_at=bad).param == "row 17: purchased_at"


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_instants_agree_with_the_reference_parser(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = aware.isoformat()
    for _ in range(2):  # once through the parser, once through the remembered pieces
        assert validate_purchase({**ROW, "purchased_at": text}, 1).purchased_at_us == parse_instant(text)


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_prices_round_trip_through_their_text(minor: int, currency: str) -> None:
    text = format_minor(minor, currency)
    assert price_minor(text, currency) == minor
    assert price_minor(Decimal(text), currency) == minor


def test_regions_are_iso_3166_alpha_2() -> None:
    assert len(ISO_3166_ALPHA2) == 249
    assert {"CN", "HK", "MO", "TW", "US"} <= ISO_3166_ALPHA2
    row = {"account_id": "A1", "region": "HK", "registered_at": "2011-01-01T00:00:00Z"}
    assert validate_account(row, 1) == AccountRecord("A1", "HK", parse_instant("2011-01-01T00:00:00Z"))
    for region, reason in (
        ("cn", "write it upper case: CN"),
        ("XX", "not an ISO 3166-1"),
        ("CHN", "not an ISO"),
    ):
        with pytest.raises(InputError) as caught:
            validate_account({**row, "region": region}, 3, source="accounts.csv")
        assert caught.value.param == "row 3: region"
        assert caught.value.message.startswith("accounts.csv row 3 (account_id A1), region:")
        assert reason in caught.value.message


def test_a_missing_column_is_named() -> None:
    row = dict(ROW)
    del row["price"]
    with pytest.raises(InputError) as caught:
        validate_purchase(row, 1, source="purchases.csv")
    assert caught.value.code == "missing_column"
    assert caught.value.param == "price"
    assert "missing column price" in caught.value.message


def test_check_columns_names_every_missing_column_once() -> None:
    assert check_columns([" Purchase_ID ", *PURCHASE_COLUMNS[1:]], PURCHASE_COLUMNS, "p.csv") == list(
        range(9)
    )
    with pytest.raises(InputError, match="missing columns price, status"):
        check_columns(
            [c for c in PURCHASE_COLUMNS if c not in ("price", "status")], PURCHASE_COLUMNS, "p.csv"
        )
    with pytest.raises(InputError, match="appears more than once"):
        check_columns([*PURCHASE_COLUMNS, "price"], PURCHASE_COLUMNS, "p.csv")


def test_bad_rows_error_lists_errors_under_the_first() -> None:
    errors = [refusal(row_number=n, price="x") for n in (3, 5, 8)]
    combined = BadRowsError(errors)
    assert isinstance(combined, InputError)
    assert combined.param == "row 3: price"
    lines = combined.message.splitlines()
    assert lines[0].startswith("purchases.csv row 3 ") and lines[0].endswith("(and 2 more below)")
    assert [line.strip()[:22] for line in lines[1:]] == ["purchases.csv row 5 (p", "purchases.csv row 8 (p"]
    truncated = BadRowsError(errors, truncated=True)
    assert f"stopped after {MAX_ERRORS} errors" in truncated.message.splitlines()[-1]


def test_fields_in_column_order_take_epoch_microseconds_only_when_asked() -> None:
    fields = [ROW[c] for c in PURCHASE_COLUMNS]
    fields[4] = 1323273599000000
    assert purchase_from_fields(fields, 1, epoch_us=True).purchased_at_us == 1323273599000000
    with pytest.raises(InputError):
        purchase_from_fields(fields, 1)
    fields[4] = datetime(2011, 12, 7, 15, 59, 59, tzinfo=UTC)
    assert purchase_from_fields(fields, 1).purchased_at_us == 1323273599000000
