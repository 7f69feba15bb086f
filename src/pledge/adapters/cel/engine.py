"""Rules evaluated in process with cel-expr-python (Google's C++ CEL), one purchase at a time.

A rule is first parsed and type-checked by :func:`pledge.domain.rules.parse_rule`
(the allow-listed subset, the one that compiles to SQL), then the text the
operator wrote goes through CEL's own parser and type checker, so both agree
before anything runs. Each top-level condition gets its own CEL program so
``explain`` can say which condition failed.

Speed: one CEL call costs 2.5-5 µs, mostly crossing into C++ and converting
values. A condition that compares each field only with literals is constant
between consecutive literals, so its result is memoized per *cell* (which
literal a value equals, or which gap between literals it falls in): CEL decides
the first value seen in each cell, later ones are a dictionary hit. Conditions
that compare two fields are memoized per tuple of values, and stop memoizing if
values rarely repeat; those are then evaluated together, in one CEL call.
``compile_rule(..., memoize=False)`` evaluates every row with CEL (tests use it).

One binding defect is worked around: cel-expr-python reads an aware datetime
through a float of epoch seconds, so outside about 1425..2514 an instant at
.999999 s becomes one second later (and 0001-01-01T00:00:00Z "infinite-past").
Rows with an instant outside the exact range use the reference evaluator, whose
meaning the tests prove CEL shares inside it.
"""

from __future__ import annotations

import bisect
import operator
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from cel_expr_python import cel

from pledge.domain.errors import InvariantViolation
from pledge.domain.rules import (
    FIELDS,
    Compare,
    Field,
    Node,
    Rule,
    Value,
    evaluate,
    fields_of,
    literals,
    parse_rule,
)
from pledge.domain.rules.ast import walk
from pledge.domain.rules.lexer import Source

__all__ = ["CEL_EXACT_MAX_US", "CEL_EXACT_MIN_US", "CompiledRule", "compile_rule", "to_cel_datetime"]

_CEL_TYPES: Final = {"string": cel.Type.STRING, "int": cel.Type.INT, "timestamp": cel.Type.TIMESTAMP}
# One environment for every rule: building one costs milliseconds, compiling against it microseconds.
_ENV: Final = cel.NewEnv(variables={name: _CEL_TYPES[kind] for name, kind in FIELDS.items()})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US: Final = timedelta(microseconds=1)

# Below 2**34 s a double still tells x.999999 s from the next second, so the binding's
# float conversion is exact on this open interval (about 1425-08-04 .. 2514-05-30 UTC).
CEL_EXACT_MIN_US: Final = -(2**34) * 1_000_000
CEL_EXACT_MAX_US: Final = 2**34 * 1_000_000

_MEMO_SIZE: Final = 4096  # entries per condition; keys are small ints or short strings
_MEMO_FILLS_BEFORE_GIVING_UP: Final = 3
_CEL_POSITION: Final = re.compile(r"<input>:(\d+):(\d+): (.*)")

_local = threading.local()


def _arena() -> Any:
    """A per-thread arena: reusing one saves about a microsecond per call, and it does not grow."""
    try:
        return _local.arena
    except AttributeError:
        _local.arena = cel.Arena()
        return _local.arena


def to_cel_datetime(instant_us: int) -> datetime:
    """Epoch µs as the aware UTC datetime CEL takes (never naive: bindings read those as local time)."""
    return _EPOCH + instant_us * _ONE_US


def _compile(text: str, src: Source, offset: int) -> Any:
    """CEL-compile ``text`` (found at ``offset`` in ``src``); its errors become InputErrors there."""
    try:
        return _ENV.compile(text)
    except RuntimeError as exc:
        match = _CEL_POSITION.search(str(exc))
        if match is None:
            raise src.error("rule_type_error", offset, f"CEL refused the rule: {exc}") from None
        line, column, message = int(match[1]), int(match[2]), match[3]
        line_start = 0
        for _ in range(line - 1):
            line_start = text.index("\n", line_start) + 1
        code = "rule_syntax" if message.startswith("Syntax error") else "rule_type_error"
        raise src.error(code, offset + line_start + column - 1, message) from None


class _Program:
    """A CEL program over some conditions: their conjunction, or the list of their results."""

    __slots__ = ("each", "expression", "instants", "nodes", "plain")

    def __init__(
        self, texts: list[str], nodes: tuple[Node, ...], src: Source, *, each: bool, at: int = 0
    ) -> None:
        if each:
            text = "[" + ", ".join(f"({t})" for t in texts) + "]"
        else:
            text = " && ".join(f"({t})" for t in texts) if len(texts) > 1 else texts[0]
        self.expression = _compile(text, src, at)  # ``at``: where a lone condition starts in the rule
        self.each = each
        self.nodes = nodes
        names = dict.fromkeys(name for node in nodes for name in fields_of(node))
        self.plain = tuple(n for n in names if FIELDS[n] != "timestamp")
        self.instants = tuple(n for n in names if FIELDS[n] == "timestamp")

    def __call__(self, values: Mapping[str, Value]) -> Any:
        data: dict[str, object] = {name: values[name] for name in self.plain}
        for name in self.instants:
            instant = values[name]
            if not isinstance(instant, int):
                raise TypeError(f"{name} must be epoch microseconds (int), got {type(instant).__name__}")
            if not CEL_EXACT_MIN_US < instant < CEL_EXACT_MAX_US:
                return self.reference(values)
            data[name] = _EPOCH + instant * _ONE_US
        try:
            result = self.expression.eval(data=data, arena=_arena()).plain_value()
        except RuntimeError as exc:  # a value of the wrong type for its field
            raise TypeError(f"CEL could not evaluate the rule on {data!r}: {exc}") from None
        # The checker typed the program bool or list(bool), so a list here holds only bools.
        if result is True or result is False or (self.each and type(result) is list):
            return result
        if isinstance(result, str) and "Unexpected value type" in result:  # CEL returns errors as values
            raise TypeError(f"{result} in {data!r}")
        raise InvariantViolation(f"CEL returned {result!r} instead of booleans; values {data!r}")

    def reference(self, values: Mapping[str, Value]) -> Any:
        results = [evaluate(node, values) for node in self.nodes]
        return results if self.each else all(results)


def _cell_key(node: Node) -> Callable[[Mapping[str, Value]], object]:
    """What a condition's result depends on: per field, its cell among the literals it meets.

    Sound because ``== != < <= > >= in`` against literals cannot tell apart two
    values lying strictly between the same two consecutive literals. A field
    compared with another field is keyed by its raw value.
    """
    paired = {
        operand.name
        for item in walk(node)
        if isinstance(item, Compare) and isinstance(item.left, Field) and isinstance(item.right, Field)
        for operand in (item.left, item.right)
        if isinstance(operand, Field)
    }
    bounds = literals(node)
    parts: list[Callable[[Mapping[str, Value]], object]] = []
    for name in fields_of(node):
        if name in paired:
            parts.append(operator.itemgetter(name))
        else:
            parts.append(_cell_of(name, sorted(set(bounds.get(name, ())))))
    if len(parts) == 1:
        return parts[0]
    return lambda values: tuple(part(values) for part in parts)


def _cell_of(name: str, bounds: list[Any]) -> Callable[[Mapping[str, Value]], object]:
    def cell(values: Mapping[str, Value]) -> int:
        value = values[name]
        index = bisect.bisect_left(bounds, value)
        return 2 * index + 1 if index < len(bounds) and bounds[index] == value else 2 * index

    return cell


class _Condition:
    __slots__ = ("fills", "index", "key", "memo", "on_give_up", "program")

    def __init__(self, index: int, program: _Program, on_give_up: Callable[[], None]) -> None:
        self.index = index
        self.program = program
        self.key = _cell_key(program.nodes[0])
        self.memo: dict[object, bool] | None = {}
        self.fills = 0
        self.on_give_up = on_give_up

    def __call__(self, values: Mapping[str, Value]) -> bool:
        memo = self.memo
        if memo is None:
            return bool(self.program(values))
        key = self.key(values)
        result = memo.get(key)
        if result is None:
            result = bool(self.program(values))
            if len(memo) >= _MEMO_SIZE:
                self.fills += 1
                if self.fills >= _MEMO_FILLS_BEFORE_GIVING_UP:
                    self.memo = None  # values rarely repeat here: memoizing only costs
                    self.on_give_up()
                    return result
                memo.clear()
            memo[key] = result
        return result


class _Plan(NamedTuple):
    """Replaced as a whole, so threads never see half of a change."""

    memoized: tuple[_Condition, ...]
    direct: tuple[_Condition, ...]
    direct_each: _Program | None  # one CEL call for every direct condition's result (a list, or a bool
    direct_all: _Program | None  # when only one is direct), and one for their conjunction


class CompiledRule:
    """A rule ready to evaluate: ``evaluate_conditions`` for explanations, ``qualifies`` for yes/no.

    ``values`` map qualified field names to ``str``/``int``, instants as epoch µs
    (:func:`pledge.domain.rules.values_of` builds them from records). Safe to
    share between threads.
    """

    def __init__(self, rule: Rule, *, param: str = "qualify.rule", memoize: bool = True) -> None:
        self.rule = rule
        self._src = src = Source(rule.source, param)
        self._conditions = tuple(
            _Condition(i, _Program([c.name], (c.node,), src, each=False, at=c.start), self._rebalance)
            for i, c in enumerate(rule.conditions)
        )
        if not memoize:
            for condition in self._conditions:
                condition.memo = None
        self._plan = _Plan(self._conditions, (), None, None)
        self._rebalance()

    @property
    def programs(self) -> tuple[Any, ...]:
        """The compiled CEL program (``cel.Expression``) of each condition, in order."""
        return tuple(c.program.expression for c in self._conditions)

    def _rebalance(self) -> None:
        direct = tuple(c for c in self._conditions if c.memo is None)
        memoized = tuple(c for c in self._conditions if c.memo is not None)
        each = all_ = None
        if len(direct) == 1:
            each = all_ = direct[0].program
        elif direct:
            texts = [self.rule.conditions[c.index].name for c in direct]
            nodes = tuple(c.program.nodes[0] for c in direct)
            each = _Program(texts, nodes, self._src, each=True)
            all_ = _Program(texts, nodes, self._src, each=False)
        self._plan = _Plan(memoized, direct, each, all_)

    def evaluate_conditions(self, values: Mapping[str, Value]) -> list[bool]:
        """One bool per condition, in the rule's order."""
        memoized, direct, each, _ = self._plan
        if each is None:
            return [condition(values) for condition in memoized]
        if not memoized:
            return list(each(values)) if each.each else [each(values)]
        results = [True] * len(self._conditions)
        for condition in memoized:
            results[condition.index] = condition(values)
        if each.each:
            for condition, result in zip(direct, each(values), strict=True):
                results[condition.index] = result
        else:
            results[direct[0].index] = each(values)
        return results

    def qualifies(self, values: Mapping[str, Value]) -> bool:
        """True when every condition holds (a rule without conditions qualifies everything)."""
        memoized, _, _, all_ = self._plan
        for condition in memoized:
            if not condition(values):
                return False
        return True if all_ is None else bool(all_(values))


def compile_rule(rule: str | Rule, *, param: str = "qualify.rule", memoize: bool = True) -> CompiledRule:
    """Parse, type-check (ours, then CEL's) and compile a rule; refusals are ``InputError``."""
    parsed = rule if isinstance(rule, Rule) else parse_rule(rule, param=param)
    if parsed.conditions:
        src = Source(parsed.source, param)
        whole = _compile(parsed.source, src, 0)  # CEL's own checker over the text as written
        if whole.return_type() != cel.Type.BOOL:
            raise src.error("rule_type_error", 0, f"CEL types the rule as {whole.return_type().name()}")
    return CompiledRule(parsed, param=param, memoize=memoize)
