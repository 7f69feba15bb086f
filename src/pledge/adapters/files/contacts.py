"""The fast path for an accounts file's optional contact columns (``email, phone, locale, wechat_openid``).

As for the other columns, Arrow kernels accept the plainly fine values of a whole batch at once
(an address already in shape, a number already in E.164, a known locale); any other value goes
through :mod:`pledge.domain.validation`, which has the final word and writes the message.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from pledge.domain.contacts import (
    ACCOUNT_LOCALES,
    CONTACT_COLUMNS,
    DEFAULT_ACCOUNT_LOCALE,
    E164_SHAPE,
    EMAIL_SHAPE,
    MAX_EMAIL_LENGTH,
)
from pledge.domain.row_values import MAX_ID_LENGTH

_Array = Any
CONTACT_KINDS: Final = ("email", "phone", "locale", "openid")  # one per CONTACT_COLUMNS
CONTACT_DEFAULTS: Final = dict.fromkeys(CONTACT_COLUMNS, "") | {"locale": DEFAULT_ACCOUNT_LOCALE}
_LOCALES: Final = pa.array(["", *ACCOUNT_LOCALES])


def contact_values(kind: str, text: _Array) -> tuple[list[Any], _Array]:
    """Canonical values of one contact column and the mask of rows the fast path vouches for."""
    trimmed = pc.ascii_trim_whitespace(text.fill_null(""))
    empty = pc.equal(pc.utf8_length(trimmed), pa.scalar(0))
    if kind == "locale":
        values = pc.if_else(empty, pa.scalar(DEFAULT_ACCOUNT_LOCALE), trimmed)
        return values.to_pylist(), pc.is_in(trimmed, value_set=_LOCALES)
    plain = pc.and_(pc.string_is_ascii(trimmed), pc.ascii_is_printable(trimmed))
    if kind == "email":
        trimmed = pc.ascii_lower(trimmed)
        shaped = pc.and_(
            pc.match_substring_regex(trimmed, EMAIL_SHAPE),
            pc.less_equal(pc.utf8_length(trimmed), pa.scalar(MAX_EMAIL_LENGTH)),
        )
    elif kind == "phone":
        shaped = pc.match_substring_regex(trimmed, E164_SHAPE)
    else:
        shaped = pc.less_equal(pc.utf8_length(trimmed), pa.scalar(MAX_ID_LENGTH))
    ok = pc.or_(empty, pc.and_(plain, shaped))
    return trimmed.to_pylist(), ok
