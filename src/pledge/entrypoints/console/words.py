"""Words the use cases return in English, shown in the reader's language: codes, events, conditions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pledge.entrypoints.console import fmt
from pledge.entrypoints.console.catalogue import MESSAGES
from pledge.entrypoints.console.i18n import translate


def event(locale: str, name: str) -> str:
    """A campaign event, audit action, webhook event or job kind in words (its name if unknown)."""
    key = f"event_{name}"
    return translate(locale, key) if key in MESSAGES else name


def _chinese(text: str) -> bool:
    """Already worded in Chinese (the console's own messages are translated when raised)."""
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def code_message(locale: str, code: str, message: str) -> str:
    """A refusal for people: its message, preceded in Chinese by what its code means."""
    key = f"code_{code}"
    if locale == "zh-CN" and key in MESSAGES and not _chinese(message):
        return f"{translate(locale, key)}（{message}）" if message else translate(locale, key)
    return message or (translate(locale, key) if key in MESSAGES else code)


def condition_detail(locale: str, condition: Mapping[str, Any], tz: str | None) -> str:
    """The deciding values of one explained condition. The window's are worded; a field's are
    ``name = value`` (language-neutral, as in the rule)."""
    if "window" not in condition:
        return str(condition.get("detail", ""))
    window = condition["window"]
    text = translate(
        locale,
        "detail_window",
        when=fmt.instant(condition["purchased_at"], tz or condition["timezone"]),
        first=window["from"],
        last=window["to"],
        tz=condition["timezone"],
    )
    days = int(condition.get("days_outside", 0))
    return text + (translate(locale, "detail_outside", n=days) if days else "")
