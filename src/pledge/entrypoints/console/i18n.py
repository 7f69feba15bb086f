"""The console's words in English and Simplified Chinese, and how a request picks one."""

from __future__ import annotations

from pledge.entrypoints.console.catalogue import MESSAGES
from pledge.entrypoints.console.fmt import DEFAULT_LOCALE, LOCALES

LANG_COOKIE = "pledge_lang"


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the remembered choice, then the browser's first language we speak."""
    for choice in (query, cookie):
        if choice in LOCALES:
            return choice
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def translate(locale: str, key: str, **values: object) -> str:
    """The message for ``key`` in ``locale`` (English if missing), with ``{name}`` values filled in."""
    entry = MESSAGES.get(key)
    text = key if entry is None else (entry[1] if locale == "zh-CN" else entry[0])
    return text.format(**values) if values else text
