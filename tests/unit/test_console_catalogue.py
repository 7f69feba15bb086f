"""Every code a refusal can carry, every event and every console word has an English and a Chinese text.

The codes are found in the source itself (the ``code`` of every raised error, however it is
written), so a new refusal without a translation fails here rather than showing English to a
Chinese-speaking operator.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from pledge.adapters.webhooks.store import EVENT_TYPES
from pledge.domain.campaign import CampaignState
from pledge.domain.grant import GrantState
from pledge.domain.subscriptions import TermState
from pledge.entrypoints.console.catalogue import MESSAGES

SRC = Path(__file__).parents[2] / "src/pledge"
# Codes built at run time from a value: f"grant_{state}", f"term_{state}", f"{what}_not_found", and the
# API's answers to unknown URLs and methods.
BUILT = {
    *(f"grant_{state.value}" for state in GrantState),
    *(f"term_{state.value}" for state in TermState),
    *(
        f"{what}_not_found"
        for what in ("account", "event", "grant", "job", "purchase", "term", "webhook_endpoint")
    ),
    "http_error",
    "unknown_url",
    "method_not_allowed",
}
# Positional code arguments: ApiError(status, type, code, ...), refused(message, status, code),
# _unauthorized(code, ...) and the rule lexer's/parser's error(code, ...).
POSITIONAL = {"ApiError": 2, "refused": 2, "_unauthorized": 0, "error": 0}


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _codes_in(tree: ast.AST) -> set[str]:
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node)
            found |= {_text(k.value) for k in node.keywords if k.arg == "code"}
            position = POSITIONAL.get(name)
            if position is not None and len(node.args) > position:
                found.add(_text(node.args[position]))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.lower().lstrip("_").endswith("code") for t in targets):
                found.add(_text(node.value))
        elif isinstance(node, ast.Dict):
            found |= {_text(v) for k, v in zip(node.keys, node.values, strict=True) if _text(k) == "code"}
        elif isinstance(node, ast.FunctionDef):
            args = node.args
            pairs = [*zip(reversed(args.args), reversed(args.defaults), strict=False)]
            pairs += zip(args.kwonlyargs, args.kw_defaults, strict=True)
            found |= {_text(default) for argument, default in pairs if argument.arg == "code"}
    return {code for code in found if code and re.fullmatch(r"[a-z][a-z0-9_]*", code)}  # not log lines


def codes_in_use() -> set[str]:
    codes = set(BUILT)
    for path in SRC.rglob("*.py"):
        codes |= _codes_in(ast.parse(path.read_text(encoding="utf-8")))
    return codes


def _first_string_args(function: str, position: int) -> set[str]:
    """String literals passed at ``position`` to calls of ``function`` anywhere in the source."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and len(node.args) > position:
                text = _text(node.args[position])
                if _name(node) == function and text:
                    found.add(text)
    return found


def events_in_use() -> set[str]:
    """Webhook events, campaign history kinds, audited actions and job kinds."""
    events = set(EVENT_TYPES)
    events |= _first_string_args("record_event", 1) | {f"state_{s.value}" for s in CampaignState}
    events |= _first_string_args("audit", 0) | _first_string_args("run", 0) | _first_string_args("audited", 1)
    events |= {f"campaign.{name}" for name in ("pause", "resume", "close")}  # f"campaign.{name}"
    events |= {f"{kind}.import" for kind in ("accounts", "purchases")}  # f"{kind}.import"
    return {e for e in events if "." in e or e in EVENT_TYPES or e.startswith("state_") or e.isidentifier()}


def test_the_scan_finds_the_codes_it_should() -> None:
    codes = codes_in_use()
    # One of each way of writing a code, so that the scan itself cannot silently find nothing.
    assert {"four_eyes", "invalid_row", "rule_syntax", "invalid_api_key", "confirm_required"} <= codes
    assert {
        "grant_expired",
        "not_active",
        "duplicate_id",
        "conflicting_reimport",
        "invariant_violated",
    } <= codes
    assert len(codes) > 90


def test_every_code_in_use_has_an_english_and_a_chinese_message() -> None:
    missing = sorted(code for code in codes_in_use() if f"code_{code}" not in MESSAGES)
    assert missing == []


def test_every_event_shown_has_an_english_and_a_chinese_name() -> None:
    events = events_in_use()
    assert {"grant.claimed", "campaign.apply", "terms_approved", "state_paused", "purchases.import"} <= events
    missing = sorted(name for name in events if f"event_{name}" not in MESSAGES)
    assert missing == []


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_is_written_in_both_languages_with_the_same_values() -> None:
    for key, (english, chinese) in MESSAGES.items():
        assert english.strip() and chinese.strip(), key
        assert any("\u4e00" <= char <= "\u9fff" for char in chinese), f"{key}: {chinese!r} is not Chinese"
        assert _fields(english) == _fields(chinese), key
