"""Qualification rules: an allow-listed, type-checked subset of CEL over purchases and accounts.

Parsed here (standard library only), evaluated in process by the CEL adapter
and compiled to SQL by the SQLAlchemy adapter; :func:`evaluate` is the
reference meaning both are tested against.
"""

from pledge.domain.rules.ast import (
    And,
    Compare,
    Condition,
    Field,
    InList,
    Literal,
    Node,
    Not,
    Operand,
    Or,
    Rule,
    evaluate,
    evaluate_rule,
    fields_of,
    literals,
)
from pledge.domain.rules.parser import MAX_DEPTH, MAX_LENGTH, MAX_NODES, parse_rule
from pledge.domain.rules.schema import FIELDS, STORAGE, FieldType, Value, values_of

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "STORAGE",
    "And",
    "Compare",
    "Condition",
    "Field",
    "FieldType",
    "InList",
    "Literal",
    "Node",
    "Not",
    "Operand",
    "Or",
    "Rule",
    "Value",
    "evaluate",
    "evaluate_rule",
    "fields_of",
    "literals",
    "parse_rule",
    "values_of",
]
