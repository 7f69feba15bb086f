"""A recursive-descent parser for the allow-listed subset of CEL.

Only ``== != < <= > >= in [...] && || !``, parentheses, string and int
literals, ``timestamp("…")`` with an offset, and schema fields are accepted,
and every comparison is type-checked here. The subset is deliberately one that
compiles to SQL with the same meaning on every engine; anything outside it is
refused at apply time with a stable code and a ``line:column`` position rather
than being evaluated differently in the database and in process.

Limits (length, nesting, parts) bound the cost of compiling and evaluating a
rule that arrives over the API.
"""

from __future__ import annotations

import difflib

from pledge.domain.errors import InputError
from pledge.domain.money import INT64_MAX, INT64_MIN
from pledge.domain.rules.ast import (
    COMPARE_OPS,
    And,
    Compare,
    CompareOp,
    Condition,
    Field,
    InList,
    Literal,
    Node,
    Not,
    Or,
    Rule,
    evaluate,
    literals,
)
from pledge.domain.rules.lexer import TS_MAX_US, TS_MIN_US, Source, Token, instant_us
from pledge.domain.rules.reader import MAX_DEPTH, MAX_LENGTH, MAX_NODES, TYPE_NAMES, Expr, TokenReader
from pledge.domain.rules.schema import FIELDS, ROOTS

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "TS_MAX_US",
    "TS_MIN_US",
    "evaluate",
    "literals",
    "parse_rule",
]

_E = Expr  # the parser's short name for a typed span


class _Parser(TokenReader):
    def need_condition(self, e: _E, op: Token) -> None:
        if e.kind == "const":
            raise self.src.error(
                "rule_unsupported",
                e.start,
                "true and false may only be the whole rule (true: every purchase qualifies)",
            )
        if e.kind != "bool":
            needs = "a condition" if op.text == "!" else "conditions"
            what = f"{self.describe(e)} is {TYPE_NAMES[e.kind]}"
            raise self.src.error("rule_type_error", op.start, f"{op.text} needs {needs} but {what}")

    # Grammar, loosest first: or := and ('||' and)* ; and := rel ('&&' rel)* ;
    # rel := unary (relop unary | 'in' unary)* ; unary := '!' unary | '-' INT | primary
    def parse_or(self) -> _E:
        first = self.parse_and()
        groups, ops = [first], []
        while self.at("||"):
            ops.append(self.take())
            groups.append(self.parse_and())
        if not ops:
            return first
        for index, group in enumerate(groups):
            self.need_condition(group, ops[max(0, index - 1)])
        self.count(ops[0].start)
        return _E(Or(tuple(g.value for g in groups)), "bool", first.start, groups[-1].end)

    def parse_and(self) -> _E:
        first = self.parse_rel()
        parts, ops = [first], []
        while self.at("&&"):
            ops.append(self.take())
            parts.append(self.parse_rel())
        if not ops:
            return first
        for index, part in enumerate(parts):
            self.need_condition(part, ops[max(0, index - 1)])
        self.count(ops[0].start)
        return _E(And(tuple(p.value for p in parts)), "bool", first.start, parts[-1].end, tuple(parts))

    def parse_rel(self) -> _E:
        left = self.parse_unary()
        while self.peek().text in COMPARE_OPS or self.at("in"):
            op = self.take()
            right = self.parse_unary()
            left = self.compare(left, op, right) if op.text != "in" else self.membership(left, op, right)
        return left

    def compare(self, left: _E, op: Token, right: _E) -> _E:
        src, kinds = self.src, {left.kind, right.kind}
        if "list" in kinds:
            raise src.error("rule_unsupported", op.start, f"a list can only follow in, not {op.text}")
        if kinds <= {"bool", "const"}:
            raise src.error(
                "rule_unsupported",
                op.start,
                f"conditions cannot be compared with {op.text}; combine them with && || !",
            )
        if left.kind != right.kind:
            raise src.error(
                "rule_type_error",
                op.start,
                f"{self.describe(left)} is {TYPE_NAMES[left.kind]} "
                f"but {self.describe(right)} is {TYPE_NAMES[right.kind]}",
            )
        if isinstance(left.value, Literal) and isinstance(right.value, Literal):
            raise src.error(
                "rule_unsupported",
                op.start,
                "this compares two constants; a condition must read a purchase or account field",
            )
        self.count(op.start)
        node = Compare(_as_op(op.text), left.value, right.value)
        return _E(node, "bool", left.start, right.end)

    def membership(self, left: _E, op: Token, right: _E) -> _E:
        src = self.src
        if left.kind in ("bool", "const", "list"):
            raise src.error(
                "rule_type_error",
                op.start,
                f"in needs a field on its left but {self.describe(left)} is {TYPE_NAMES[left.kind]}",
            )
        if not isinstance(left.value, Field):
            raise src.error("rule_unsupported", op.start, "the left side of in must be a field")
        if right.kind != "list":
            raise src.error(
                "rule_type_error",
                op.start,
                f'in needs a list like ["a", "b"] on its right '
                f"but {self.describe(right)} is {TYPE_NAMES[right.kind]}",
            )
        for element in right.value:
            if element.kind != left.kind:
                raise src.error(
                    "rule_type_error",
                    element.start,
                    f"{self.describe(left)} is "
                    f"{TYPE_NAMES[left.kind]} but {self.describe(element)} in the list is "
                    f"{TYPE_NAMES[element.kind]}",
                )
        self.count(op.start)
        node = InList(left.value, tuple(element.value for element in right.value))
        return _E(node, "bool", left.start, right.end)

    def parse_unary(self) -> _E:
        token = self.peek()
        if self.at("!"):
            self.take()
            self.enter(token)
            operand = self.parse_unary()
            self.depth -= 1
            self.need_condition(operand, token)
            self.count(token.start)
            return _E(Not(operand.value), "bool", token.start, operand.end)
        if self.at("-"):
            self.take()
            number = self.peek()
            if number.kind != "int":
                raise self.src.error(
                    "rule_unsupported",
                    token.start,
                    "arithmetic is not supported; - may only start a negative int literal",
                )
            self.take()
            return self.int_literal(token.start, number, negative=True)
        return self.parse_primary()

    def int_literal(self, start: int, token: Token, *, negative: bool) -> _E:
        assert isinstance(token.value, int)
        value = -token.value if negative else token.value
        if not INT64_MIN <= value <= INT64_MAX:
            raise self.src.error(
                "rule_syntax", start, f"{self.src.text[start : token.end]} is outside the int64 range"
            )
        self.count(start)
        return _E(Literal(value, "int"), "int", start, token.end)

    def parse_primary(self) -> _E:
        token = self.take()
        if token.kind == "int":
            result = self.int_literal(token.start, token, negative=False)
        elif token.kind == "string":
            assert isinstance(token.value, str)
            self.count(token.start)
            result = _E(Literal(token.value, "string"), "string", token.start, token.end)
        elif token.text == "(":
            self.enter(token)
            inner = self.parse_or()
            close = self.expect(")")
            self.depth -= 1
            self.inner[(token.start, close.end)] = (inner.start, inner.end)
            result = _E(inner.value, inner.kind, token.start, close.end, inner.parts)
        elif token.text == "[":
            result = self.parse_list(token)
        elif token.kind == "ident":
            result = self.parse_name(token)
        elif token.text == ".":
            raise self.src.error("rule_unsupported", token.start, "names may not start with a dot")
        else:
            raise self.unexpected(token)
        follower = self.peek()
        if follower.text in (".", "(", "[") and follower.kind == "op":
            raise self.src.error(
                "rule_unsupported", follower.start, "member access, calls and indexing are not supported here"
            )
        return result

    def parse_list(self, open_: Token) -> _E:
        self.enter(open_)
        elements: list[_E] = []
        while not self.at("]"):
            element = self.parse_or()
            if not isinstance(element.value, Literal):
                raise self.src.error("rule_unsupported", element.start, "a list may only hold literal values")
            elements.append(element)
            if not self.at(","):
                break
            self.take()
        close = self.expect("]")
        self.depth -= 1
        return _E(tuple(elements), "list", open_.start, close.end)

    def parse_name(self, token: Token) -> _E:
        src, word = self.src, token.text
        if word in ("true", "false"):
            return _E(word == "true", "const", token.start, token.end)
        if word == "null":
            raise src.error(
                "rule_unsupported",
                token.start,
                "there are no null values: every field is always "
                'present and absent text is "", so compare with "" instead',
            )
        if word == "in":
            raise self.unexpected(token)
        name, end = word, token.end
        while self.at(".") and self.peek(1).kind == "ident":
            self.take()
            end = self.take().end
            name = f"{name}.{self.tokens[self.i - 1].text}"
        follower = self.peek()
        if follower.text == "(" and follower.kind == "op":
            if name == "timestamp":
                return self.parse_timestamp(token)
            what = f"method {name.rsplit('.', 1)[1]}()" if "." in name else f"function {name}()"
            raise src.error(
                "rule_unsupported",
                token.start,
                f'{what} is not supported; the only function is timestamp("...")',
            )
        field_type = FIELDS.get(name)
        if field_type is None:
            root = name.split(".", 1)[0]
            known = ", ".join(f for f in FIELDS if f.startswith(root + ".")) if root in ROOTS else ""
            close = difflib.get_close_matches(name, list(FIELDS), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            hint += f" ({root} fields: {known})" if known else " (fields start with purchase. or account.)"
            raise src.error("rule_unknown_field", token.start, f"{name} is not a field{hint}")
        self.count(token.start)
        return _E(Field(name, field_type), field_type, token.start, end)

    def parse_timestamp(self, name: Token) -> _E:
        self.expect("(")
        argument = self.take()
        if argument.kind != "string" or not self.at(")"):
            raise self.src.error(
                "rule_unsupported",
                argument.start,
                'timestamp() takes one string literal like "2011-12-07T23:59:59+08:00"',
            )
        close = self.take()
        assert isinstance(argument.value, str)
        self.count(name.start)
        return _E(
            Literal(instant_us(self.src, argument.value, argument.start), "timestamp"),
            "timestamp",
            name.start,
            close.end,
        )


def _as_op(text: str) -> CompareOp:
    for op in ("==", "!=", "<", "<=", ">", ">="):
        if op == text:
            return op
    raise ValueError(text)


def parse_rule(text: str, *, param: str = "qualify.rule") -> Rule:
    """Parse and type-check a rule; its top-level ``&&`` clauses become its conditions.

    An empty rule (or ``true``) has no conditions: every purchase qualifies.
    Raises :class:`InputError` with code ``rule_syntax``, ``rule_unsupported``,
    ``rule_type_error``, ``rule_unknown_field`` or ``rule_too_complex``.
    """
    if not isinstance(text, str):
        raise InputError(f"{param}: a rule must be text", code="rule_syntax", param=param)
    src = Source(text, param)
    if len(text) > MAX_LENGTH:
        raise src.error(
            "rule_too_complex",
            MAX_LENGTH,
            f"the rule is {len(text)} characters; at most {MAX_LENGTH} are allowed",
        )
    parser = _Parser(src)
    if parser.peek().kind == "eof":
        return Rule(text, ())
    whole = parser.parse_or()
    if parser.peek().kind != "eof":
        raise parser.unexpected(parser.peek(), "expected && or || or the end of the rule")
    if whole.kind == "const":
        if whole.value is True:
            return Rule(text, ())
        raise src.error("rule_unsupported", whole.start, "a rule that is always false qualifies nothing")
    if whole.kind != "bool":
        raise src.error(
            "rule_type_error",
            whole.start,
            f"a rule must be a condition but {parser.describe(whole)} is {TYPE_NAMES[whole.kind]}",
        )
    conditions = []
    for part in whole.parts or (whole,):
        start, end = part.start, part.end
        while (start, end) in parser.inner:
            start, end = parser.inner[(start, end)]
        node: Node = part.value
        conditions.append(Condition(text[start:end], text, node, start))
    return Rule(text, tuple(conditions))
