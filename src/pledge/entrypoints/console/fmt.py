"""Money, numbers and instants for people, per locale. Money never passes through a float.

Amounts arrive as integer minor units or as the decimal strings the use cases
return (``"1999.00"``); both are formatted with exact integer arithmetic.
"""

from __future__ import annotations

from pledge.domain.money import currency_exponent, parse_minor
from pledge.domain.timeutil import format_instant, parse_instant, zone

LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"

# Symbols as each locale writes them (CLDR); unknown currencies are written with their code.
_SYMBOLS: dict[str, dict[str, str]] = {
    "en": {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥"},
    "zh-CN": {"CNY": "¥", "USD": "US$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥"},
}


def group(n: int) -> str:
    """``1234567`` → ``1,234,567`` (both locales group by thousands with a comma)."""
    sign = "-" if n < 0 else ""
    digits = str(abs(n))
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sign + ",".join(parts)


def money_minor(minor: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """``199900, "CNY"`` → ``¥1,999.00``; exact, from integer minor units."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    number = group(whole) + (f".{frac:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(locale, _SYMBOLS[DEFAULT_LOCALE]).get(currency)
    if symbol is None:
        return f"{sign}{number} {currency}"
    return f"{sign}{symbol}{number}"


def money(amount: str | int | None, currency: str | None, locale: str = DEFAULT_LOCALE) -> str:
    """A decimal string from a use case (or minor units as int) for display; ``—`` when absent."""
    if amount is None or currency is None:
        return "—"
    minor = amount if isinstance(amount, int) else parse_minor(str(amount), currency)
    return money_minor(minor, currency, locale)


def percent(part: int, whole: int) -> str:
    """``part/whole`` as a percentage with one decimal, rounded half up, integers only."""
    if whole <= 0:
        return "—"
    tenths = (part * 1000 * 2 + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"


def per_mille(part: int, whole: int) -> int:
    """0..1000, for bars and meters."""
    if whole <= 0:
        return 0
    return max(0, min(1000, part * 1000 // whole))


def instant(text: str | None, tz_name: str | None = None) -> str:
    """An ISO instant as ``2011-12-07 23:59:59 +08:00``, in ``tz_name`` when given."""
    if not text:
        return "—"
    us = parse_instant(text)
    shown = format_instant(us, zone(tz_name)) if tz_name else text
    date_part, _, rest = shown.partition("T")
    if "." in rest:  # whole seconds are enough for people; the API keeps the microseconds
        head, _, tail = rest.partition(".")
        rest = head + tail.lstrip("0123456789")
    for sep in ("+", "-", "Z"):
        index = rest.rfind(sep)
        if index > 0:
            return f"{date_part} {rest[:index]} {rest[index:]}".replace(" Z", " UTC")
    return f"{date_part} {rest}"


def instant_us(us: int, tz_name: str | None = None) -> str:
    return instant(format_instant(us, zone(tz_name) if tz_name else None), tz_name)
