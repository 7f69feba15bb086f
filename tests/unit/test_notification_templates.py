"""Every built-in template renders in both languages, completely, in the reader's conventions."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import UndefinedError

from pledge.adapters.notifications.render import TEMPLATES_DIR, Renderer, display_values, money_text
from pledge.domain.contacts import ACCOUNT_LOCALES
from pledge.domain.notifications import CLAIM_DECISIONS, TEMPLATES, template
from pledge.domain.timeutil import to_us

PUBLIC = "https://pledge.example.com"
DEADLINE_US = to_us(datetime(2026, 12, 31, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai")))
COMMON = {
    "campaign_name": "Founders <b>refund</b>",
    "service_name": "Cloud<b>Drive</b>",
    "amount_minor": 199_900,
    "currency": "CNY",
    "claim_deadline_us": DEADLINE_US,
    "confirm_before_us": DEADLINE_US,
    "ends_at_us": DEADLINE_US,
    "timezone": "Asia/Shanghai",
    "days_left": 7,
    "days_added": 30,
    "claim_id": "CLM-42",
}
CASES = [
    (name, locale, decision)
    for name in TEMPLATES
    for locale in ACCOUNT_LOCALES
    for decision in (CLAIM_DECISIONS if name == "claim_decided" else ("approved",))
]
renderer = Renderer(PUBLIC + "/")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
TAG = re.compile(r"<[^>]+>")


def params_for(name: str, decision: str) -> dict[str, Any]:
    return {key: COMMON.get(key, decision) for key in template(name).params}


def without_values(text: str, name: str, locale: str, params: dict[str, Any]) -> str:
    """The template's own words: values, links and markup taken out."""
    values = display_values(template(name), params, locale)
    for value in sorted((str(v) for v in values.values()), key=len, reverse=True):
        text = text.replace(value, " ").replace(value.replace("<", "&lt;").replace(">", "&gt;"), " ")
    text = re.sub(r"https://\S+?(?=[\s\"<]|$)", " ", text)
    return TAG.sub(" ", text).replace("&lt;", " ").replace("&gt;", " ").replace("&amp;", " ")


@pytest.mark.parametrize(("name", "locale", "decision"), CASES)
def test_every_template_renders_fully_in_its_language(name: str, locale: str, decision: str) -> None:
    params = params_for(name, decision)
    email = renderer.render(name, locale, params, channel="email", message_id="m1")
    sms = renderer.render(name, locale, params, channel="sms", message_id="m1")
    inapp = renderer.render(name, locale, params, channel="inapp", message_id="m1")
    parts = [email.subject, email.text, email.html, sms.text, inapp.subject, inapp.text]
    assert all(part.strip() for part in parts)
    for part in parts:
        assert "{{" not in part and "{%" not in part and "${" not in part
        own_words = without_values(part, name, locale, params)
        if locale == "zh-CN":
            assert not ENGLISH_WORD.search(own_words), f"English left in {name}/{locale}: {own_words!r}"
        else:
            assert not CJK.search(own_words), f"Chinese left in {name}/{locale}: {own_words!r}"
    for part in (email.text, email.html):
        assert f"{PUBLIC}/me" in part and f"{PUBLIC}/unsubscribe/m1" in part
    assert f"{PUBLIC}/me" in sms.text
    assert sms.text.endswith("回T退订" if locale == "zh-CN" else "Reply STOP to opt out")
    assert "<b>" not in email.html and "&lt;b&gt;" in email.html  # autoescaped in HTML only
    assert "<b>" in email.text  # and left alone in plain text


@pytest.mark.parametrize(("name", "locale", "decision"), CASES)
def test_the_sms_is_its_approved_text_with_the_values_put_back(name: str, locale: str, decision: str) -> None:
    approved = renderer.sms_template(name, locale)
    sms = renderer.render(name, locale, params_for(name, decision), channel="sms", message_id="m1")
    assert set(re.findall(r"\$\{(\w+)\}", approved)) == set(sms.sms_params)
    assert re.sub(r"\$\{(\w+)\}", lambda m: sms.sms_params[m[1]], approved) == sms.text


def test_every_template_exists_in_both_languages_and_nothing_else_does() -> None:
    expected = {
        f"{locale}/{name}.{kind}"
        for name in TEMPLATES
        for locale in ACCOUNT_LOCALES
        for kind in ("txt", "html")
    } | {f"{locale}/_layout.html" for locale in ACCOUNT_LOCALES}
    found = {str(path.relative_to(TEMPLATES_DIR)) for path in TEMPLATES_DIR.rglob("*") if path.is_file()}
    assert found == expected


def test_a_line_break_in_a_name_never_reaches_a_header_or_an_sms() -> None:
    sneaky = "Cloud\r\nBcc: all@example.com"
    params = {**params_for("compensation_applied", "approved"), "service_name": sneaky}
    email = renderer.render("compensation_applied", "en", params, channel="email", message_id="m1")
    sms = renderer.render("compensation_applied", "en", params, channel="sms", message_id="m1")
    assert email.subject.startswith("Your Cloud Bcc: all@example.com subscription")
    assert sms.sms_params["service_name"] == "Cloud Bcc: all@example.com"
    assert not any("\n" in value or "\r" in value for value in (sms.text, *sms.sms_params.values()))


def test_money_in_the_readers_conventions_exactly() -> None:
    assert money_text(199_900, "CNY", "zh-CN") == "¥1,999.00"
    assert money_text(199_900, "CNY", "en") == "CN¥1,999.00"  # ¥ alone would also be yen
    assert money_text(1_999, "JPY", "en") == "¥1,999"
    assert money_text(2**53 + 1, "CNY", "zh-CN") == "¥90,071,992,547,409.93"  # no float on the way


def test_the_deadline_is_in_the_campaigns_zone_and_says_so() -> None:
    spec = template("grant_issued")
    base = {"campaign_name": "x", "amount_minor": 1, "currency": "CNY", "claim_deadline_us": DEADLINE_US}
    shanghai = display_values(spec, {**base, "timezone": "Asia/Shanghai"}, "zh-CN")["claim_deadline"]
    new_york = display_values(spec, {**base, "timezone": "America/New_York"}, "en")["claim_deadline"]
    assert shanghai == "2026年12月31日 23:59 中国标准时间"
    assert new_york == "31 December 2026, 10:59 Eastern Standard Time"
    ends = display_values(
        template("compensation_applied"),
        {"service_name": "x", "days_added": 3, "ends_at_us": DEADLINE_US, "timezone": "Asia/Shanghai"},
        "en",
    )
    assert ends["ends_on"] == "December 31, 2026"


def test_an_undefined_name_in_a_template_is_an_error_not_blank_text(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    blocks = "".join(f"{{% block {b} %}}x{{% endblock %}}" for b in ("subject", "text", "sms", "inapp_title"))
    (tmp_path / "en" / "grant_issued.txt").write_text(
        blocks + "{% block inapp_body %}{{ amout }}{% endblock %}"
    )
    params = params_for("grant_issued", "approved")
    with pytest.raises(UndefinedError, match="amout"):
        Renderer(PUBLIC, templates_dir=tmp_path).render(
            "grant_issued", "en", params, channel="inapp", message_id="m"
        )
