"""An account's optional email, phone, locale and wechat_openid: validated and stored canonical."""

from __future__ import annotations

import pytest

from pledge.domain.contacts import ContactError, email_of, locale_of, phone_candidates, phone_of
from pledge.domain.errors import InputError
from pledge.domain.records import AccountRecord
from pledge.domain.timeutil import parse_instant
from pledge.domain.validation import validate_account

ROW = {"account_id": "A1", "region": "CN", "registered_at": "2011-01-01T00:00:00+08:00"}
AT = parse_instant(ROW["registered_at"])


def test_absent_columns_mean_empty_and_the_locale_defaults_to_zh_cn() -> None:
    record = validate_account(ROW, 1)
    assert record == AccountRecord("A1", "CN", AT, "", "", "zh-CN", "")
    blank = validate_account({**ROW, "email": " ", "phone": "", "locale": "", "wechat_openid": None}, 1)
    assert blank == record


def test_contacts_are_stored_in_one_canonical_form() -> None:
    record = validate_account(
        {
            **ROW,
            "email": " Li.Lei@Example.COM ",
            "phone": "+86 138-0013-8000",
            "locale": "en",
            "wechat_openid": "oAbC",
        },
        1,
    )
    assert (record.email, record.phone, record.locale, record.wechat_openid) == (
        "li.lei@example.com",
        "+8613800138000",
        "en",
        "oAbC",
    )
    assert phone_of("0086 138 0013 8000") == "+8613800138000"
    assert phone_of("+1 (415) 555-0100") == "+14155550100"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("email", "li.lei", "is not an email address like name@example.com"),
        ("email", "li@localhost", "is not an email address"),
        ("email", "li lei@example.com", "is not an email address"),
        ("email", "李@例子.中国", "is not an email address"),
        ("phone", "13800138000", "add the country code: +86 for mainland China"),
        ("phone", "+0123456789", "is not an E.164 number like +8613800138000"),
        ("phone", "+86 138 0013 8000 0000", "is not an E.164 number"),
        ("phone", "call me", "is not an E.164 number"),
        ("locale", "EN", "is not one of zh-CN, en (write it en)"),
        ("locale", "zh_cn", "(write it zh-CN)"),
        ("locale", "fr", "is not one of zh-CN, en"),
        ("wechat_openid", "o\tX", "contains control characters"),
    ],
)
def test_a_bad_contact_names_row_field_and_reason(field: str, value: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_account({**ROW, field: value}, 7, source="accounts.csv")
    assert caught.value.code == "invalid_row"
    assert caught.value.param == f"row 7: {field}"
    assert caught.value.message.startswith(f"accounts.csv row 7 (account_id A1), {field}: ")
    assert reason in caught.value.message


def test_the_shapes_on_their_own() -> None:
    assert email_of("") == "" and phone_of("  ") == "" and locale_of("") == "zh-CN"
    with pytest.raises(ContactError):
        email_of("a@b@example.com")
    with pytest.raises(ContactError):
        email_of("x" * 250 + "@example.com")


def test_support_may_type_a_phone_number_any_usual_way() -> None:
    assert phone_candidates("+86 138 0013 8000") == ["+8613800138000"]
    assert phone_candidates("008613800138000") == ["+8613800138000"]
    assert phone_candidates("138-0013-8000") == ["+13800138000", "+8613800138000"]
    assert phone_candidates("P-000123") == []
    assert phone_candidates("gr_12345678") == []
