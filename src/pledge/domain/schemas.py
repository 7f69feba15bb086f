"""The schema of every file Pledge reads: cashback campaigns, offer campaigns, plans.

Each schema is a JSON Schema (draft 2020-12) written as a plain dict. It is the
one source of truth: :func:`check_document` walks a loaded document against
it before the parsers read a single value, and ``pledge schemas --out
docs/schemas`` publishes it for editors (``additionalProperties: false`` at
every object, so an editor underlines a misspelt key as you type).

The walk refuses what a parser would otherwise never see: a key it does not
know, at any depth (``limits.per_acount: unknown field; did you mean
per_account?``). Values and shapes (money, dates, durations, CEL, a list
where a mapping belongs) are checked by the parsers, whose messages say more
than a type mismatch would.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pledge.domain.errors import InputError

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_URN: Final = "urn:pledge:schema:"  # an identifier, not a download location
UNKNOWN_FIELD: Final = "unknown_field"

_SLUG = "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_MONEY = {
    "type": ["string", "integer"],
    "pattern": r"^[0-9]+(\.[0-9]+)?$",
    "description": 'An amount in major units, as a quoted decimal string: "1999.00".',
}
_DATE = {"type": "string", "format": "date", "description": "A local date in the campaign's time zone."}


def _obj(
    properties: Mapping[str, Any], required: Sequence[str] = (), description: str = ""
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = dict(properties)
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = False
    return schema


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _enum(*values: str, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def _nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


def _window(description: str) -> dict[str, Any]:
    return _obj({"from": _DATE, "to": _DATE}, ("from", "to"), description)


def _document(name: str, title: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": DRAFT, "$id": f"{SCHEMA_URN}{name}", "title": title, **body}


_ID = _text("The campaign's id: a slug of a-z, 0-9 and - (at most 64).", pattern=_SLUG)
_NAME = _text("A name people read.")
_TIMEZONE = _text("IANA time zone, e.g. Asia/Shanghai; local dates are read in it.")
_CURRENCY = _text("ISO 4217 code, e.g. CNY.", pattern="^[A-Z]{3}$")
_LIMIT = {"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000}

CASHBACK_CAMPAIGN: Final[dict[str, Any]] = _document(
    "cashback-campaign",
    "Pledge cashback campaign",
    _obj(
        {
            "id": _ID,
            "name": _NAME,
            "kind": _enum("cashback", description="Optional for a cashback campaign."),
            "timezone": _TIMEZONE,
            "currency": _CURRENCY,
            "qualify": _obj(
                {
                    "purchased": _window(
                        "The purchase window: local dates, both inclusive. With tiers it may be omitted "
                        "(the tiers' span); if given, it must equal that span."
                    ),
                    "rule": _text("CEL over `purchase` and `account`; each top-level && is a condition."),
                },
            ),
            "benefit": _obj(
                {
                    "kind": _enum("cashback"),
                    "amount": {
                        **_MONEY,
                        "pattern": r"^(price_paid|[0-9]+(\.[0-9]+)?)$",
                        "description": 'price_paid (the default), or a fixed amount like "100.00".',
                    },
                    "max_amount": _nullable({**_MONEY, "description": "The cap per grant."}),
                }
            ),
            "payout": _obj(
                {
                    "channel": _enum("red_envelope"),
                    "claim_within": _text("Opened within this long (30d, 24h), else it expires."),
                    "rail": _enum(
                        "wallet",
                        "wechat_transfer",
                        description="How an opened envelope is paid: the account wallet (the default) "
                        "or a WeChat Pay merchant transfer.",
                    ),
                    "split": _obj(
                        {
                            "max_per_transfer": {**_MONEY, "description": "The most one transfer carries."},
                            "max_per_account_day": {
                                **_MONEY,
                                "description": "The most one account receives in a local day.",
                            },
                            "max_count_per_account_day": {
                                "type": "integer",
                                "minimum": 1,
                                "description": "The most transfers one account receives in a local day.",
                            },
                        },
                        description="The rail's limits for this campaign, in place of the rail's defaults "
                        "(WeChat: 200.00 per transfer, 1000.00 and 10 transfers per account a day).",
                    ),
                    "reinstate_review_above": {
                        **_MONEY,
                        "description": "Re-opening an expired envelope of more than this needs two "
                        "different persons (grants reinstate).",
                    },
                }
            ),
            "limits": _obj({"per_account": _LIMIT, "per_serial": _LIMIT}),
            "notify": _obj(
                {
                    "remind_before": {
                        "type": "array",
                        "items": {"type": "string"},
                        "maxItems": 5,
                        "description": "When holders of unopened envelopes are reminded, before expiry "
                        "(default [7d, 1d]); [] for no reminders.",
                    }
                }
            ),
            "budget": {**_MONEY, "description": "The most the campaign may ever pay."},
            "group": _text(
                "The promise group (a slug); two campaigns of a group never pay one purchase twice.",
                pattern=_SLUG,
                default="default",
            ),
            "stacking": _enum(
                "excluded",
                "allowed",
                description="Whether this campaign may pay a purchase another of its group pays.",
            ),
            "claims": _obj(
                {
                    "open_until": {**_DATE, "description": "The last local date a claim is taken."},
                    "review_above": {
                        **_MONEY,
                        "description": "Claims granting more than this need two different approvers.",
                    },
                    "evidence": _enum(
                        "required", "optional", description="Whether a claim must carry an evidence file."
                    ),
                },
                ("open_until",),
                "Claims for purchases missing from the records: checked, flagged, reviewed.",
            ),
            "tiers": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "description": "Ordered tiers: the first whose window holds a purchase gives its amount; "
                "the rule, limits and budget apply to all. Their windows must form one unbroken span. With "
                "tiers, benefit.amount and benefit.max_amount are not used.",
                "items": _obj(
                    {
                        "id": _text(
                            "The tier's id (a slug), shown on grants, reports and explain.", pattern=_SLUG
                        ),
                        "purchased": _window("The tier's purchase window: local dates, both inclusive."),
                        "amount": {
                            **_MONEY,
                            "pattern": r"^(price_paid|[0-9]+(\.[0-9]+)?)$",
                            "description": 'price_paid (the default), or a fixed amount like "199.90".',
                        },
                        "max_amount": _nullable({**_MONEY, "description": "The cap per grant in this tier."}),
                    },
                    ("id", "purchased"),
                ),
            },
        },
        ("id", "name", "timezone", "currency", "qualify", "benefit", "payout", "budget"),
    ),
)

_BONUS = _obj(
    {"type": {"const": "bonus_period"}, "bonus": _text("Added to the first term, e.g. 6 months.")},
    ("type", "bonus"),
    "List price, longer first term.",
)
_INTRO = _obj(
    {
        "type": {"const": "intro_price"},
        "prices": {
            "type": "object",
            "description": "The first term's price of every plan in applies_to.",
            "propertyNames": {"pattern": _SLUG},
            "additionalProperties": _MONEY,
        },
    },
    ("type", "prices"),
    "A campaign price for the first term only.",
)

OFFER_CAMPAIGN: Final[dict[str, Any]] = _document(
    "offer-campaign",
    "Pledge offer campaign",
    _obj(
        {
            "id": _ID,
            "name": _NAME,
            "kind": {"const": "offer"},
            "timezone": _TIMEZONE,
            "currency": _CURRENCY,
            "applies_to": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": _SLUG}},
            "sale": _window("The sale: local dates, both inclusive."),
            "renewal": _obj({"price": _enum("list"), "auto_renew": _enum("opt_in")}),
            "terms": _obj(
                {
                    "effective": _text("The instant these terms apply from, with its offset."),
                    "offer": {"oneOf": [_BONUS, _INTRO]},
                    "compensation": _obj(
                        {"policy": _enum("rate_parity", "difference_as_time", "refund_and_repurchase")}
                    ),
                },
                ("effective", "offer"),
            ),
        },
        ("id", "name", "kind", "timezone", "currency", "applies_to", "sale", "terms"),
    ),
)

PLANS: Final[dict[str, Any]] = _document(
    "plans",
    "Pledge plans (the catalog)",
    _obj(
        {
            "currency": _CURRENCY,
            "plans": {
                "type": "array",
                "minItems": 1,
                "items": _obj(
                    {
                        "id": _text("The plan's id (a slug).", pattern=_SLUG),
                        "name": _NAME,
                        "list_price": _MONEY,
                        "period": _text("One paid term: 12 months, 1 year, 30 days."),
                    },
                    ("id", "name", "list_price", "period"),
                ),
            },
        },
        ("currency", "plans"),
    ),
)

# File name under docs/schemas/ (without .schema.json) -> schema.
PUBLISHED: Final[dict[str, dict[str, Any]]] = {
    "cashback-campaign": CASHBACK_CAMPAIGN,
    "offer-campaign": OFFER_CAMPAIGN,
    "plans": PLANS,
}


def unknown_field_message(path: str, key: str, known: Sequence[str], what: str = "field") -> str:
    """``limits.per_acount: unknown field; did you mean per_account?`` (or the known names)."""
    return f"{path}: unknown {what}{suggestion(key, known)}"


def _closeness(key: str, known: Sequence[str]) -> float:
    """How close ``key`` is to the nearest known name (0..1), where ``suggestion`` would name it."""
    lowered = [name.lower() for name in known]
    close = difflib.get_close_matches(key.lower(), lowered, n=1, cutoff=0.6)
    return difflib.SequenceMatcher(None, key.lower(), close[0]).ratio() if close else 0.0


def suggestion(key: str, known: Sequence[str]) -> str:
    """``; did you mean X?`` for the closest known name, else `` (known: a, b)``."""
    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {by_lower[close[0]]}?"
    return f" (known: {', '.join(sorted(known))})" if known else ""


def check_document(doc: object, schema: Mapping[str, Any]) -> None:
    """Refuse keys the schema does not know, at any depth; every one found is named (code ``unknown_field``).

    A section of the wrong shape (a list where a mapping belongs) is left to
    the parser, whose message says what the section must hold.
    """
    problems: list[tuple[str, str, float]] = []  # (param, message, closeness to a known name)
    _walk(doc, schema, "", problems)
    # Likely typos first, the closest first: ``kindd`` (one letter from ``kind``) explains why an
    # offer's keys look unknown to the cashback schema, better than ``terms`` (near ``tiers``) does.
    problems.sort(key=lambda problem: -problem[2])
    if problems:
        param, message, _ = problems[0]
        if len(problems) > 1:
            message += " Also: " + " ".join(text for _, text, _ in problems[1:6])
            if len(problems) > 6:
                message += f" (and {len(problems) - 6} more)"
        raise InputError(message, param=param, code=UNKNOWN_FIELD)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _branch(value: Mapping[str, Any], options: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The ``oneOf`` option whose ``type`` constant the value names; else one knowing every option's keys."""
    for option in options:
        if option.get("properties", {}).get("type", {}).get("const") == value.get("type"):
            return option
    known: dict[str, Any] = {}
    for option in options:
        known.update(option.get("properties", {}))
    return {"type": "object", "properties": {key: {} for key in known}, "additionalProperties": False}


def _walk(
    value: object, schema: Mapping[str, Any], path: str, problems: list[tuple[str, str, float]]
) -> None:
    if isinstance(value, Mapping):
        if "oneOf" in schema:
            _walk(value, _branch(value, schema["oneOf"]), path, problems)
            return
        if schema.get("type") != "object":
            return
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", False)
        for key, item in value.items():
            item_path = _join(path, key)
            if key in properties:
                _walk(item, properties[key], item_path, problems)
            elif isinstance(extra, Mapping):
                _walk(item, extra, item_path, problems)
            elif extra is False:
                message = unknown_field_message(item_path, str(key), list(properties))
                problems.append((item_path, message, _closeness(str(key), list(properties))))
    elif isinstance(value, list) and schema.get("type") == "array":
        items = schema.get("items", {})
        for index, item in enumerate(value):
            _walk(item, items, f"{path}[{index}]", problems)


def schema_text(name: str) -> str:
    """The published form of one schema (``docs/schemas/<name>.schema.json``), byte-stable."""
    return json.dumps(PUBLISHED[name], indent=2, ensure_ascii=False) + "\n"
