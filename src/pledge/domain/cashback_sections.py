"""The sections of a cashback campaign file, each checked on its own.

``qualify`` (the purchase window and the rule), ``benefit`` (the fixed amount and the cap),
``payout.channel``, ``limits`` and ``notify.remind_before``; every error names its field.
:func:`pledge.domain.campaign.parse_cashback_terms` assembles them into terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pledge.domain.errors import InputError
from pledge.domain.fields import money_field, section, text_field
from pledge.domain.notifications import reminder_offsets_us
from pledge.domain.tiers import PRICE_PAID, TierTerms, span_of
from pledge.domain.timeutil import LocalDateWindow, parse_date

_CODE = "invalid_campaign"
MAX_LIMIT = 1_000_000


def cashback_section(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The mapping under ``key``, refused as an invalid campaign if it is anything else."""
    return section(doc, key, key, code=_CODE)


def cashback_text(doc: Mapping[str, Any], key: str, param: str) -> str:
    """The non-empty text under ``key``, trimmed."""
    return text_field(doc.get(key), param, code=_CODE)


def purchase_window(
    qualify: Mapping[str, Any], tiers: tuple[TierTerms, ...], tz_name: str
) -> LocalDateWindow:
    """``qualify.purchased``; with tiers it may be omitted (their span), and if given must equal it."""
    purchased = cashback_section(qualify, "purchased") if "purchased" in qualify else None
    if purchased is None:
        if tiers:
            return span_of(tiers, tz_name)
        raise InputError(
            "qualify.purchased: a window {from, to} of local dates is required",
            param="qualify.purchased",
            code=_CODE,
        )
    window = LocalDateWindow(
        parse_date(str(purchased.get("from")), param="qualify.purchased.from"),
        parse_date(str(purchased.get("to")), param="qualify.purchased.to"),
        tz_name,
    )
    if tiers:
        span = span_of(tiers, tz_name)
        if (span.first, span.last) != (window.first, window.last):
            raise InputError(
                f"qualify.purchased: {window.first} to {window.last} is not the tiers' span "
                f"({span.first} to {span.last}); omit it, or make the tiers cover exactly the window",
                param="qualify.purchased",
                code=_CODE,
            )
    return window


def qualify_rule(qualify: Mapping[str, Any]) -> str:
    """``qualify.rule``: the CEL expression, as written."""
    rule = qualify.get("rule", "")
    if not isinstance(rule, str):
        raise InputError(
            "qualify.rule: a CEL expression string is required", param="qualify.rule", code="invalid_campaign"
        )
    return rule


def fixed_and_cap(
    benefit: Mapping[str, Any], currency: str, tiers: tuple[TierTerms, ...]
) -> tuple[int | None, int | None]:
    """``benefit.amount`` (None: the price paid, or each tier's own) and ``benefit.max_amount``."""
    if benefit.get("kind", "cashback") != "cashback":
        raise InputError(
            f"benefit.kind: {benefit.get('kind')!r} is not supported here (cashback)",
            param="benefit.kind",
            code="invalid_campaign",
        )
    if tiers:
        for key in ("amount", "max_amount"):
            if benefit.get(key) is not None:
                raise InputError(
                    f"benefit.{key}: each tier states its own amount; remove benefit.{key} or the tiers",
                    param=f"benefit.{key}",
                    code=_CODE,
                )
    amount = benefit.get("amount", PRICE_PAID)
    fixed = None if tiers or amount == PRICE_PAID else money_field(amount, currency, "benefit.amount")
    max_amount = benefit.get("max_amount")
    cap = None if max_amount is None else money_field(max_amount, currency, "benefit.max_amount")
    return fixed, cap


def payout_channel(payout: Mapping[str, Any]) -> str:
    """``payout.channel``: red envelopes, the one channel a cashback campaign pays through."""
    channel = payout.get("channel", "red_envelope")
    if channel != "red_envelope":
        raise InputError(
            f"payout.channel: {channel!r} is not supported (red_envelope)",
            param="payout.channel",
            code="invalid_campaign",
        )
    return str(channel)


def limits_section(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """``limits``: absent or empty is no limits at all."""
    limits = doc.get("limits") or {}
    if not isinstance(limits, Mapping):
        raise InputError("limits: a mapping is required", param="limits", code="invalid_campaign")
    return limits


def limit(limits: Mapping[str, Any], key: str) -> int | None:
    """``limits.<key>``: None (no limit) or a whole number from 1 to ``MAX_LIMIT``."""
    value = limits.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InputError(
            f"limits.{key}: an integer from 1 to {MAX_LIMIT} is required",
            param=f"limits.{key}",
            code="invalid_campaign",
        )
    return value


def check_reminders(doc: Mapping[str, Any]) -> None:
    """``notify.remind_before``: durations, each once (``usecases/notify_reminders`` reads them)."""
    notify = doc.get("notify") or {}
    offsets = notify.get("remind_before") if isinstance(notify, Mapping) else None
    if offsets is not None:
        reminder_offsets_us([str(o) for o in offsets])
