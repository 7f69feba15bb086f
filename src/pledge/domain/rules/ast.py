"""The typed syntax tree of a qualification rule, and a reference evaluator.

The tree only holds what the allow-listed CEL subset can say: comparisons of a
field with a literal or another field of the same type, ``in`` over a literal
list, and ``&& || !``. Every node is a frozen dataclass so rules can be shared
between threads and used as dictionary keys.

:func:`evaluate` is the plain-Python meaning of a tree. It is the oracle the
CEL engine and the SQL compiler are tested against, and the fallback for the
few instants the CEL binding cannot carry exactly (see the CEL adapter).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from typing import Literal as TypingLiteral

from pledge.domain.rules.schema import FieldType, Value

CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">="]
COMPARE_OPS: Final = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Field:
    """A reference to a schema field by qualified name (``purchase.sku``)."""

    name: str
    type: FieldType


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: ``str`` for strings, ``int`` for ints and for timestamps (epoch µs UTC)."""

    value: Value
    type: FieldType


Operand = Field | Literal


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class InList:
    item: Field
    values: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Compare | InList | And | Or | Not


@dataclass(frozen=True, slots=True)
class Condition:
    """One top-level ``&&`` clause: what ``explain`` and the dry run report on.

    ``name`` is the clause's source text (outer parentheses stripped), and
    ``source[start:start + len(name)] == name``.
    """

    name: str
    source: str
    node: Node
    start: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule: the conjunction of its conditions (none means every purchase qualifies)."""

    source: str
    conditions: tuple[Condition, ...]

    @property
    def node(self) -> Node | None:
        """The whole rule as one tree, ``None`` when it has no conditions."""
        if not self.conditions:
            return None
        if len(self.conditions) == 1:
            return self.conditions[0].node
        return And(tuple(c.node for c in self.conditions))

    @property
    def fields(self) -> tuple[str, ...]:
        """Qualified names of the fields the rule reads, in first-use order."""
        names: dict[str, None] = {}
        for condition in self.conditions:
            names.update(dict.fromkeys(fields_of(condition.node)))
        return tuple(names)


def walk(node: Node) -> Iterator[Node | Operand]:
    """Every node and operand, depth first, parents before children."""
    yield node
    if isinstance(node, Compare):
        yield node.left
        yield node.right
    elif isinstance(node, InList):
        yield node.item
        yield from node.values
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from walk(item)
    else:
        yield from walk(node.item)


def fields_of(node: Node) -> tuple[str, ...]:
    """Qualified names of the fields a tree reads, in first-use order."""
    return tuple(dict.fromkeys(n.name for n in walk(node) if isinstance(n, Field)))


def literals(node: Node) -> dict[str, tuple[Value, ...]]:
    """The literal values each field is compared with, per qualified field name.

    Test data is generated around these (the value, one step either side, its
    prefixes): uniform random data almost never lands on a rule's boundary.
    """
    found: dict[str, dict[Value, None]] = {}

    def add(field: Field, value: Value) -> None:
        found.setdefault(field.name, {})[value] = None

    for item in walk(node):
        if isinstance(item, Compare):
            if isinstance(item.left, Field) and isinstance(item.right, Literal):
                add(item.left, item.right.value)
            elif isinstance(item.right, Field) and isinstance(item.left, Literal):
                add(item.right, item.left.value)
        elif isinstance(item, InList):
            for literal in item.values:
                add(item.item, literal.value)
    return {name: tuple(values) for name, values in found.items()}


_OPS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _operand(operand: Operand, values: Mapping[str, Value]) -> Value:
    return values[operand.name] if isinstance(operand, Field) else operand.value


def evaluate(node: Node, values: Mapping[str, Value]) -> bool:
    """The meaning of a tree for one row (values keyed by qualified name, timestamps as epoch µs).

    Python compares ``str`` by code point, which is UTF-8 byte order: the order
    CEL, SQLite (BINARY) and PostgreSQL (``COLLATE "C"``) use.
    """
    if isinstance(node, Compare):
        return bool(_OPS[node.op](_operand(node.left, values), _operand(node.right, values)))
    if isinstance(node, InList):
        item = values[node.item.name]
        return any(item == literal.value for literal in node.values)
    if isinstance(node, And):
        return all(evaluate(item, values) for item in node.items)
    if isinstance(node, Or):
        return any(evaluate(item, values) for item in node.items)
    return not evaluate(node.item, values)


def evaluate_rule(rule: Rule, values: Mapping[str, Value]) -> list[bool]:
    """One result per condition, in order."""
    return [evaluate(condition.node, values) for condition in rule.conditions]
