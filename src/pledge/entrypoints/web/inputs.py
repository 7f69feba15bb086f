"""Checks every piece of text that reaches the API before it reaches a use case or the database.

PostgreSQL refuses NUL characters and every driver refuses lone surrogates:
left unchecked either becomes a 500. Control characters have no business in
an id. So they are refused here, as a 400 naming the parameter.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from pledge.entrypoints.web.errors import bad_request

MAX_PARAM_LENGTH = 256
MAX_DEPTH = 32


def check_text(value: str, param: str, *, max_length: int | None = MAX_PARAM_LENGTH) -> str:
    if max_length is not None and len(value) > max_length:
        raise bad_request(f"{param}: longer than {max_length} characters", param=param, code="too_long")
    for ch in value:
        if ch in "\t\n\r":
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            raise bad_request(
                f"{param}: contains a control character or an unpaired surrogate (U+{ord(ch):04X})",
                param=param,
                code="invalid_characters",
            )
    return value


def check_json(value: Any, param: str = "body", depth: int = 0) -> None:
    """Every string (keys too) in a decoded JSON/YAML document, and its nesting depth."""
    if depth > MAX_DEPTH:
        raise bad_request(f"{param}: nested deeper than {MAX_DEPTH} levels", param=param, code="too_deep")
    if isinstance(value, str):
        check_text(value, param, max_length=None)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{param}.{key}" if isinstance(key, str) else param
            if isinstance(key, str):
                check_text(key, name, max_length=MAX_PARAM_LENGTH)
            check_json(item, name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json(item, f"{param}[{index}]", depth + 1)


def check_params(params: Mapping[str, str]) -> None:
    for name, value in params.items():
        check_text(value, name)
