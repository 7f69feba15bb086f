"""Tokens of the CEL subset, literal decoding, and errors that point at a line and column.

The lexer follows CEL's lexical grammar (escapes, raw and triple-quoted strings,
``//`` comments, decimal and ``0x`` ints) so a text we accept means to CEL
exactly what it means to us; what CEL would read as a double, uint or bytes
literal is refused by name rather than misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pledge.domain.errors import InputError

# CEL's timestamp range, 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999Z, in epoch µs.
TS_MIN_US: Final = -62_135_596_800 * 1_000_000
TS_MAX_US: Final = 253_402_300_799 * 1_000_000 + 999_999

_WHITESPACE: Final = frozenset(" \t\n\r\f")  # CEL's; other Unicode spaces are errors there too
_DIGITS: Final = frozenset("0123456789")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_IDENT_START: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_REST: Final = _IDENT_START | _DIGITS
_OPERATORS: Final = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ",", ".", "-")
_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "?": "?",
    '"': '"',
    "'": "'",
    "`": "`",
}
_DATETIME: Final = r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
_TIMESTAMP: Final = re.compile(_DATETIME + r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))")
_NAIVE: Final = re.compile(_DATETIME + r"|[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EPOCH: Final = datetime(1970, 1, 1)  # naive on purpose: offsets are applied as integers below


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "ident", "int" (unsigned magnitude), "string", "op", "eof"
    text: str
    start: int
    end: int
    value: str | int | None = None


@dataclass(frozen=True, slots=True)
class Source:
    text: str
    param: str

    def error(self, code: str, pos: int, message: str) -> InputError:
        """``qualify.rule 1:14: <message>`` then the line and a caret, the way CEL shows its errors."""
        text = self.text
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        column = pos - line_start + 1
        window = max(0, column - 41)  # long lines are windowed so the caret stays on screen
        where = f"{text.count(chr(10), 0, pos) + 1}:{column}"
        caret = "." * (column - 1 - window) + "^"
        return InputError(
            f"{self.param} {where}: {message}\n | {line[window : window + 80]}\n | {caret}",
            code=code,
            param=self.param,
        )


def tokenize(src: Source) -> list[Token]:
    text, n, i = src.text, len(src.text), 0
    tokens: list[Token] = []
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
            continue
        if text.startswith("//", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        if ch in _IDENT_START:
            j = i + 1
            while j < n and text[j] in _IDENT_REST:
                j += 1
            prefix = text[i:j].lower()
            if j < n and text[j] in "\"'" and prefix in ("r", "b", "rb", "br"):
                if "b" in prefix:
                    raise src.error("rule_unsupported", i, "bytes literals are not supported")
                token = _string(src, i, j, raw=True)
            else:
                token = Token("ident", text[i:j], i, j)
        elif ch in _DIGITS or (ch == "." and text[i + 1 : i + 2] in _DIGITS):
            token = _number(src, i)
        elif ch in "\"'":
            token = _string(src, i, i, raw=False)
        else:
            op = next((op for op in _OPERATORS if text.startswith(op, i)), None)
            if op is None:
                raise _bad_char(src, i, ch)
            token = Token("op", op, i, i + len(op))
        tokens.append(token)
        i = token.end
    tokens.append(Token("eof", "", n, n))
    return tokens


def _bad_char(src: Source, i: int, ch: str) -> InputError:
    if ch in "+*/%":
        return src.error("rule_unsupported", i, f"arithmetic ({ch}) is not supported in rules")
    if ch in "?:":
        return src.error("rule_unsupported", i, "the conditional operator ?: is not supported")
    if ch in "{}":
        return src.error("rule_unsupported", i, "maps and message literals are not supported")
    if ch == "=":
        return src.error("rule_syntax", i, "a single = is not an operator; compare with ==")
    if ch in "&|":
        return src.error("rule_syntax", i, f"a single {ch} is not an operator; use {ch * 2}")
    return src.error("rule_syntax", i, f"unexpected character {ch!r}")


def _number(src: Source, i: int) -> Token:
    text, n, j = src.text, len(src.text), i
    if text.startswith("0x", i):
        j = i + 2
        while j < n and text[j] in _HEX:
            j += 1
        if j == i + 2:
            raise src.error("rule_syntax", i, "0x must be followed by hexadecimal digits")
        value = int(text[i + 2 : j], 16)
    else:
        while j < n and text[j] in _DIGITS:
            j += 1
        value = int(text[i:j] or "0")
    after = text[j : j + 3]
    exponent = after[:1] in ("e", "E") and (
        after[1:2] in _DIGITS or (after[1:2] in ("+", "-") and after[2:3] in _DIGITS)
    )
    if j == i or (after[:1] == "." and after[1:2] in _DIGITS) or exponent:
        raise src.error(
            "rule_unsupported",
            i,
            "double (floating point) literals are not supported: "
            "money is an int of minor units, write 199900 for 1999.00",
        )
    if after[:1] in ("u", "U"):
        raise src.error("rule_unsupported", i, "unsigned (u) literals are not supported; write a plain int")
    return Token("int", text[i:j], i, j, value)


def _string(src: Source, start: int, quote_at: int, *, raw: bool) -> Token:
    """A string literal whose prefix (``r``) starts at ``start`` and whose quote is at ``quote_at``."""
    text, n = src.text, len(src.text)
    quote = text[quote_at]
    delimiter = quote * 3 if text.startswith(quote * 3, quote_at) else quote
    j = quote_at + len(delimiter)
    out: list[str] = []
    while not text.startswith(delimiter, j):
        if j >= n:
            raise src.error("rule_syntax", start, "this string is never closed")
        ch = text[j]
        if len(delimiter) == 1 and ch in "\n\r":
            raise src.error("rule_syntax", start, "this string is not closed before the end of the line")
        if ch == "\\" and not raw:
            ch, j = _escape(src, j)
        else:
            j += 1
        out.append(ch)
    value = "".join(out)
    if raw and (len(value) - len(value.rstrip("\\"))) % 2:
        # CEL's unescaper reads a final backslash as escaping the closing quote and refuses the text.
        raise src.error("rule_syntax", start, "a raw string cannot end with an odd number of backslashes")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL, so no stored value could ever match it.
        raise src.error("rule_unsupported", start, "strings may not contain the NUL character")
    return Token("string", text[start : j + len(delimiter)], start, j + len(delimiter), value)


def _escape(src: Source, j: int) -> tuple[str, int]:
    text = src.text
    kind = text[j + 1 : j + 2]
    if kind and kind in _ESCAPES:
        return _ESCAPES[kind], j + 2
    width = {"x": 2, "X": 2, "u": 4, "U": 8}.get(kind)
    if width is not None:
        digits = text[j + 2 : j + 2 + width]
        if len(digits) != width or not set(digits) <= _HEX:
            raise src.error("rule_syntax", j, f"\\{kind} must be followed by {width} hexadecimal digits")
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise src.error("rule_syntax", j, f"\\{kind}{digits} is not a Unicode character")
        return chr(code), j + 2 + width
    octal = text[j + 1 : j + 4]
    if len(octal) == 3 and octal[0] in "0123" and set(octal[1:]) <= set("01234567"):
        return chr(int(octal, 8)), j + 4
    raise src.error("rule_syntax", j, f"invalid escape sequence \\{kind}")


def instant_us(src: Source, text: str, pos: int) -> int:
    """RFC 3339 with a mandatory offset, to epoch µs; naive times are refused, never guessed."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        why = "has no UTC offset" if _NAIVE.fullmatch(text) else "is not an RFC 3339 instant"
        raise src.error(
            "rule_syntax",
            pos,
            f"{text!r} {why}; write it like 2011-12-07T23:59:59+08:00 or 2011-12-07T15:59:59Z",
        )
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    fraction = fraction or ""
    if fraction[6:].strip("0"):
        raise src.error("rule_unsupported", pos, f"{text!r} is more precise than a microsecond")
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError as exc:
        raise src.error("rule_syntax", pos, f"{text!r} is not a valid instant ({exc})") from None
    if sign and (int(off_h) > 23 or int(off_m) > 59):
        raise src.error("rule_syntax", pos, f"{text!r} has an impossible UTC offset")
    offset_us = (int(off_h or 0) * 3600 + int(off_m or 0) * 60) * 1_000_000
    if sign == "-":
        offset_us = -offset_us
    value = (local - _EPOCH) // timedelta(microseconds=1) + int(fraction[:6].ljust(6, "0")) - offset_us
    if not TS_MIN_US <= value <= TS_MAX_US:
        raise src.error("rule_syntax", pos, f"{text!r} is outside years 0001..9999 in UTC")
    return value
