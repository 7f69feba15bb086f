"""Reading a rule's tokens for the parser: position, expectations, limits, and typed spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pledge.domain.errors import InputError
from pledge.domain.rules.lexer import Source, Token, tokenize

MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 32
MAX_NODES: Final = 256
TYPE_NAMES: Final = {
    "string": "a string",
    "int": "an int",
    "timestamp": "a timestamp",
    "bool": "a condition",
    "const": "a constant condition",
    "list": "a list",
}


@dataclass(frozen=True, slots=True)
class Expr:
    """A parsed expression with its type and source span (spans never reach the public tree)."""

    value: Any  # Node, Field, Literal, bool (true/false) or tuple[Expr, ...] (a list)
    kind: str  # a field type, "bool", "const" or "list"
    start: int
    end: int
    parts: tuple[Expr, ...] = field(default=())  # the operands when this is an && chain


class TokenReader:
    """The tokens of one rule, read one at a time, with its limits on nesting and parts."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.tokens = tokenize(src)
        self.i = 0
        self.depth = 0
        self.nodes = 0
        self.inner: dict[tuple[int, int], tuple[int, int]] = {}  # (span with parens) -> span inside

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "ident") and token.text == text

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.unexpected(self.peek(), f"expected {text}")
        return self.take()

    def unexpected(self, token: Token, hint: str = "") -> InputError:
        found = "the end of the rule" if token.kind == "eof" else repr(token.text)
        return self.src.error(
            "rule_syntax", token.start, f"unexpected {found}" + (f": {hint}" if hint else "")
        )

    def count(self, pos: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.src.error("rule_too_complex", pos, f"the rule has more than {MAX_NODES} parts")

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.src.error(
                "rule_too_complex", token.start, f"nesting is deeper than {MAX_DEPTH} levels"
            )

    def describe(self, e: Expr) -> str:
        text = " ".join(self.src.text[e.start : e.end].split())
        return text if len(text) <= 40 else text[:37] + "..."
