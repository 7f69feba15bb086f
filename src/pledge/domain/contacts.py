"""How to reach a customer: the optional ``email, phone, locale, wechat_openid`` of an account.

Stored in one canonical form so that customer service finds a person by an exact match whatever
way the number or address was typed: an email in lower case, a phone number in E.164
(``+8613800138000``), a locale ``zh-CN`` or ``en`` (``zh-CN`` when not given). An absent column
or an empty value means unknown (``""``).
"""

from __future__ import annotations

import re
from typing import Final

CONTACT_COLUMNS: Final = ("email", "phone", "locale", "wechat_openid")
ACCOUNT_LOCALES: Final = ("zh-CN", "en")
DEFAULT_ACCOUNT_LOCALE: Final = "zh-CN"
MAX_EMAIL_LENGTH: Final = 254  # RFC 5321's limit on a forward path

# One @, a local part without spaces, a domain of dot-separated labels ending in a letter label.
EMAIL_SHAPE: Final = r"^[^@\s]{1,64}@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$"
E164_SHAPE: Final = r"^\+[1-9][0-9]{6,14}$"  # ITU-T E.164: a country code and at most 15 digits
_EMAIL: Final = re.compile(EMAIL_SHAPE)
_E164: Final = re.compile(E164_SHAPE)
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-.()/]")


class ContactError(ValueError):
    """A contact value that cannot be stored; the message reads ``field: reason``."""


def _show(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def email_of(value: str) -> str:
    """The canonical (lower-case) address, ``""`` for none; ContactError if it is not an address."""
    text = value.strip().lower()
    if not text:
        return ""
    if len(text) > MAX_EMAIL_LENGTH or not text.isascii() or not _EMAIL.match(text):
        raise ContactError(f"email: {_show(value)} is not an email address like name@example.com")
    return text


def phone_of(value: str) -> str:
    """The number in E.164, ``""`` for none; ContactError naming the expected form otherwise.

    Spaces, hyphens, dots and parentheses between digits are dropped and ``00`` is read as ``+``;
    a number without its country code is refused rather than guessed.
    """
    text = value.strip()
    if not text:
        return ""
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _E164.match(compact) and compact.isascii():
        return compact
    hint = " (add the country code: +86 for mainland China)" if compact.isdigit() else ""
    raise ContactError(f"phone: {_show(value)} is not an E.164 number like +8613800138000{hint}")


def locale_of(value: str) -> str:
    text = value.strip()
    if not text:
        return DEFAULT_ACCOUNT_LOCALE
    if text in ACCOUNT_LOCALES:
        return text
    known = {locale.lower(): locale for locale in ACCOUNT_LOCALES}
    fixed = known.get(text.lower().replace("_", "-"))
    hint = f" (write it {fixed})" if fixed else ""
    raise ContactError(f"locale: {_show(text)} is not one of {', '.join(ACCOUNT_LOCALES)}{hint}")


def phone_candidates(query: str) -> list[str]:
    """The E.164 numbers a support agent may mean by ``query`` (a mainland number may omit +86)."""
    compact = _PHONE_SEPARATORS.sub("", query.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        return [compact] if _E164.match(compact) else []
    if not compact.isdigit() or not compact.isascii():
        return []
    found = [f"+{compact}"] if _E164.match(f"+{compact}") else []
    if len(compact) == 11 and compact.startswith("1"):  # a mainland China mobile number
        found.append(f"+86{compact}")
    return found
