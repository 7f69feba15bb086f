"""Validation of document fields shared by campaign, catalog and offer files.

Each helper names the field (``param``) in its error, so a refused file says
exactly where the problem is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pledge.domain.errors import InputError
from pledge.domain.money import parse_minor

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def slug_field(value: object, param: str, *, code: str) -> str:
    if not isinstance(value, str) or not SLUG.match(value.strip()):
        raise InputError(
            f"{param}: {value!r} must be a slug of a-z, 0-9 and - (at most 64)", param=param, code=code
        )
    return value.strip()


def text_field(value: object, param: str, *, code: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{param}: a non-empty string is required", param=param, code=code)
    return value.strip()


def money_field(value: object, currency: str, param: str) -> int:
    """A positive amount written as a decimal string (``"72.00"``) or an integer, in minor units."""
    # YAML turns 72.00 (unquoted) into a float: refuse it instead of guessing its digits.
    if isinstance(value, (bool, float)):
        raise InputError(
            f'{param}: write money as a quoted decimal string like "72.00", not {value!r}',
            param=param,
            code="invalid_amount",
        )
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(f"{param}: a decimal amount is required", param=param, code="invalid_amount")
    minor = parse_minor(value, currency, param=param)
    if minor <= 0:
        raise InputError(f"{param}: must be greater than zero", param=param, code="invalid_amount")
    return minor


def section(doc: Mapping[str, Any], key: str, param: str, *, code: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, Mapping):
        raise InputError(f"{param}: a mapping is required", param=param, code=code)
    return value
