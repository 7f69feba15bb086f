"""Render the built-in templates in the recipient's language (Jinja2 + Babel).

Each template has, per locale, ``{locale}/{name}.txt`` (blocks ``subject``, ``text``, ``sms``,
``inapp_title``, ``inapp_body``; plain text, no escaping) and ``{locale}/{name}.html`` (the email's
HTML part, autoescaped). Undefined variables are errors, never empty text.

Values are formatted here, not in templates: money with Babel in the locale's conventions
(``¥1,999.00``; ``CN¥1,999.00`` in English, where ``¥`` alone would also be yen), instants in the
zone the message names (the campaign's: a claim deadline is the campaign's local midnight).

An SMS to a mainland number is a *pre-approved template* plus values. :meth:`Renderer.sms_template`
renders the ``sms`` block with ``${name}`` in place of every value: that is the text submitted to
the provider for approval, and the message then carries only the values
(:attr:`Rendered.sms_params`), which the gateway puts back into the approved text.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from pledge.domain.contacts import ACCOUNT_LOCALES
from pledge.domain.money import currency_exponent
from pledge.domain.notifications import Rendered, TemplateSpec, check_params, template
from pledge.domain.timeutil import from_us

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
TEXT_BLOCKS: Final = ("subject", "text", "sms", "inapp_title", "inapp_body")
# Parsed once: Babel parses a locale name anew on every call, most of a message's formatting time.
_BABEL_LOCALE: Final = {"zh-CN": Locale.parse("zh_CN"), "en": Locale.parse("en")}
# Babel patterns: the zone's long name follows the time, so a reader abroad knows whose midnight it is.
_DATETIME_PATTERN: Final = {"zh-CN": "y年M月d日 HH:mm zzzz", "en": "d MMMM y, HH:mm zzzz"}
_DATE_FORMAT: Final = "long"


def money_text(amount_minor: int, currency: str, locale: str) -> str:
    """``¥1,999.00`` from ``199900`` minor units: Decimal arithmetic, never float."""
    amount = Decimal(amount_minor).scaleb(-currency_exponent(currency))
    return format_currency(amount, currency, locale=_BABEL_LOCALE[locale])


def instant_text(instant_us: int, timezone: str, locale: str) -> str:
    tz = ZoneInfo(timezone)
    return format_datetime(
        from_us(instant_us, tz), _DATETIME_PATTERN[locale], tzinfo=tz, locale=_BABEL_LOCALE[locale]
    )


def date_text(instant_us: int, timezone: str, locale: str) -> str:
    return format_date(
        from_us(instant_us, ZoneInfo(timezone)).date(), _DATE_FORMAT, locale=_BABEL_LOCALE[locale]
    )


def display_values(spec: TemplateSpec, params: Mapping[str, Any], locale: str) -> dict[str, Any]:
    """What the templates see: names without storage suffixes, values in the reader's conventions."""
    check_params(spec, params)
    values: dict[str, Any] = {
        name: _one_line(params[name])
        for name in ("campaign_name", "service_name", "claim_id", "decision", "days_left", "days_added")
        if name in params
    }
    if "amount_minor" in params:
        values["amount"] = money_text(int(params["amount_minor"]), str(params["currency"]), locale)
    zone = str(params.get("timezone", "UTC"))
    if "claim_deadline_us" in params:
        values["claim_deadline"] = instant_text(int(params["claim_deadline_us"]), zone, locale)
    if "confirm_before_us" in params:
        values["confirm_before"] = instant_text(int(params["confirm_before_us"]), zone, locale)
    if "ends_at_us" in params:
        values["ends_on"] = date_text(int(params["ends_at_us"]), zone, locale)
    return values


def _one_line(value: Any) -> Any:
    """Names as one line of single spaces: a line break must never reach a header or an SMS."""
    return " ".join(value.split()) if isinstance(value, str) else value


class Renderer:
    def __init__(self, public_url: str, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.public_url = public_url.rstrip("/")
        self._approved: dict[tuple[str, str], str] = {}
        self._env = Environment(
            loader=FileSystemLoader(templates_dir),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def me_url(self) -> str:
        return f"{self.public_url}/me"

    def unsubscribe_url(self, message_id: str) -> str:
        return f"{self.public_url}/unsubscribe/{message_id}"

    def _template(self, locale: str, name: str, kind: str) -> Template:
        if locale not in ACCOUNT_LOCALES:
            raise ValueError(f"locale: {locale!r} is not one of {', '.join(ACCOUNT_LOCALES)}")
        return self._env.get_template(f"{locale}/{template(name).name}.{kind}")

    def _blocks(self, locale: str, name: str, context: dict[str, Any]) -> dict[str, str]:
        source = self._template(locale, name, "txt")
        # shared: the mapping itself is the context, so _Placeholders answers every name.
        ctx = source.new_context(context, shared=True)
        blocks = {block: "".join(source.blocks[block](ctx)).strip() for block in TEXT_BLOCKS}
        # Headers, titles and SMS are one line whatever a template's author wrote.
        for one_line in ("subject", "inapp_title", "sms"):
            blocks[one_line] = " ".join(blocks[one_line].split())
        return blocks

    def render(
        self, name: str, locale: str, params: Mapping[str, Any], *, channel: str, message_id: str
    ) -> Rendered:
        """One message of template ``name`` for ``channel`` (email, sms, inapp, webhook)."""
        context = {
            **display_values(template(name), params, locale),
            "me_url": self.me_url(),
            "unsubscribe_url": self.unsubscribe_url(message_id),
        }
        blocks = self._blocks(locale, name, context)
        if channel == "email":
            html = self._template(locale, name, "html").render(context)
            return Rendered(blocks["subject"], blocks["text"] + "\n", html)
        if channel == "sms":
            approved = self.sms_template(name, locale)
            used = {key: str(value) for key, value in context.items() if "${" + key + "}" in approved}
            return Rendered("", blocks["sms"], sms_params=used)
        return Rendered(blocks["inapp_title"], blocks["inapp_body"])

    def sms_template(self, name: str, locale: str) -> str:
        """The SMS text with ``${name}`` placeholders: what the provider approves in advance."""
        key = (name, locale)
        if key not in self._approved:
            self._approved[key] = self._blocks(locale, name, _Placeholders())["sms"]
        return self._approved[key]


class _Placeholders(dict[str, str]):
    """Every variable a template asks for renders as ``${variable}``."""

    def __missing__(self, key: str) -> str:
        return "${" + key + "}"

    def __contains__(self, key: object) -> bool:
        return True
