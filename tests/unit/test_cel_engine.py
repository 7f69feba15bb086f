"""The CEL engine against the reference evaluator, on generated rules and rows around their literals.

The strategies in the first half are also used by
``tests/integration/test_rule_differential.py`` (loaded by path: tests have no
packages), so the database is tested on exactly the rules and rows CEL is.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from cel_expr_python import cel
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pledge.adapters.cel import engine
from pledge.adapters.cel.engine import CEL_EXACT_MAX_US, CEL_EXACT_MIN_US, compile_rule, to_cel_datetime
from pledge.domain.errors import InputError
from pledge.domain.money import INT64_MAX, INT64_MIN
from pledge.domain.rules import (
    FIELDS,
    And,
    Compare,
    Field,
    InList,
    Literal,
    Node,
    Not,
    Or,
    Value,
    evaluate_rule,
    literals,
    parse_rule,
)
from pledge.domain.rules.ast import CompareOp
from pledge.domain.rules.lexer import TS_MAX_US, TS_MIN_US, Source
from pledge.domain.timeutil import parse_instant

# ---------------------------------------------------------------- strategies

BY_TYPE = {kind: [name for name, t in FIELDS.items() if t == kind] for kind in ("string", "int", "timestamp")}
OPS: tuple[CompareOp, ...] = ("==", "!=", "<", "<=", ">", ">=")
WINDOW_END = parse_instant("2011-12-07T23:59:59+08:00")
SPECIAL_STRINGS = (
    "",
    "CN",
    "cn",
    "HK",
    "mi-1",
    "mi-10",
    "mi-1s",
    "completed",
    "returned",
    "a",
    "b",
    "Z",
    "é",
    "e\u0301",
    "\u0301",
    "😀",
    "😀x",
    "\uffff",
    "\U00010000",
    "\U0010ffff",
    "\ud7ff",
    "\ue000",
    "10",
    "9",
    " ",
    "a b",
    "\t",
    "'",
    '"',
    "\\",
    "%",
    ":r0",
    "中国",
    "İ",
    "ß",
    "SS",
    "\x7f",
    "\x80",
    "a\nb",
    "''",
    '"""',
)
INT_SPECIALS = (0, 1, -1, 199900, 1999, INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1)
TS_SPECIALS = (
    0,
    -1,
    1,
    WINDOW_END,
    WINDOW_END + 1,
    TS_MIN_US,
    TS_MAX_US,
    CEL_EXACT_MIN_US + 1,
    CEL_EXACT_MAX_US - 1,
    CEL_EXACT_MIN_US,
    CEL_EXACT_MAX_US,
    parse_instant("2011-09-01T00:00:00+08:00"),
)
text_values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6)


def literal_values(kind: str) -> st.SearchStrategy[Any]:
    if kind == "string":
        return st.one_of(st.sampled_from(SPECIAL_STRINGS), text_values)
    if kind == "int":
        return st.one_of(st.sampled_from(INT_SPECIALS), st.integers(-3, 3), st.integers(INT64_MIN, INT64_MAX))
    return st.one_of(
        st.sampled_from(TS_SPECIALS),
        st.integers(WINDOW_END - 10**14, WINDOW_END + 10**14),
        st.integers(TS_MIN_US, TS_MAX_US),
    )


@st.composite
def leaves(draw: st.DrawFn) -> Node:
    kind = draw(st.sampled_from(("string", "int", "timestamp")))
    field = Field(draw(st.sampled_from(BY_TYPE[kind])), kind)  # type: ignore[arg-type]  # kind: a literal
    shape = draw(st.sampled_from(("literal", "literal_left", "field", "in")))
    if shape == "field":
        return Compare(draw(st.sampled_from(OPS)), field, Field(draw(st.sampled_from(BY_TYPE[kind])), kind))  # type: ignore[arg-type]  # as above
    if shape == "in":
        values = draw(st.lists(literal_values(kind), max_size=4))
        return InList(field, tuple(Literal(v, kind) for v in values))  # type: ignore[arg-type]  # as above
    literal = Literal(draw(literal_values(kind)), kind)  # type: ignore[arg-type]  # as above
    op = draw(st.sampled_from(OPS))
    return Compare(op, field, literal) if shape == "literal" else Compare(op, literal, field)


nodes = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        children.map(Not),
    ),
    max_leaves=6,
)


def _escape(char: str, rng: random.Random, must: str, *, triple: bool = False) -> str:
    code = ord(char)
    if triple and char == "\n" and rng.random() < 0.5:
        return char  # triple-quoted strings may span lines
    if char in must or char in "\\\n\r" or rng.random() < 0.3:
        if char in "\\\"'" and rng.random() < 0.5:
            return "\\" + char
        if code < 0x100 and rng.random() < 0.5:
            return rng.choice((f"\\x{code:02x}", f"\\X{code:02X}", f"\\{code:03o}"))
        return f"\\u{code:04x}" if code <= 0xFFFF and rng.random() < 0.5 else f"\\U{code:08X}"
    return char


def render_string(value: str, rng: random.Random) -> str:
    style = rng.choice(("double", "single", "triple", "raw"))
    trailing = len(value) - len(value.rstrip("\\"))
    if style == "raw" and not set(value) & set('"\n\r') and trailing % 2 == 0:
        return rng.choice("rR") + '"' + value + '"'
    if style == "triple":
        quote = rng.choice(('"', "'"))
        return quote * 3 + "".join(_escape(c, rng, quote, triple=True) for c in value) + quote * 3
    quote = "'" if style == "single" else '"'
    return quote + "".join(_escape(c, rng, quote) for c in value) + quote


def render_int(value: int, rng: random.Random) -> str:
    digits = f"0x{abs(value):x}" if rng.random() < 0.3 else str(abs(value))
    return ("-" + rng.choice(("", " ")) + digits) if value < 0 else digits


def render_instant(value: int, rng: random.Random) -> str:
    utc = datetime(1970, 1, 1) + timedelta(microseconds=value)
    minutes = rng.choice((0, 0, 480, -330, 840, -720, 59, -1439))
    try:
        local = utc + timedelta(minutes=minutes)
        local.replace(year=local.year)  # within years 1..9999
    except OverflowError:
        local, minutes = utc, 0
    if minutes == 0 and rng.random() < 0.7:
        offset = "Z"
    else:
        sign = "-" if minutes < 0 else "+"
        offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    fraction = f"{local.microsecond:06d}" + rng.choice(("", "", "000"))
    if rng.random() < 0.5:
        fraction = fraction.rstrip("0")
    text = f"{local.year:04d}-{local:%m-%dT%H:%M:%S}" + (f".{fraction}" if fraction else "") + offset
    return f"timestamp({render_string(text, rng)})"


def render_operand(operand: Field | Literal, rng: random.Random) -> str:
    if isinstance(operand, Field):
        return operand.name if rng.random() < 0.9 else operand.name.replace(".", " . ")
    if operand.type == "string":
        assert isinstance(operand.value, str)
        return render_string(operand.value, rng)
    assert isinstance(operand.value, int)
    return render_int(operand.value, rng) if operand.type == "int" else render_instant(operand.value, rng)


def render(node: Node, rng: random.Random) -> str:
    space = rng.choice((" ", " ", "  ", "\n", "\t", " // note\n"))
    if isinstance(node, Compare):
        return f"{render_operand(node.left, rng)}{space}{node.op} {render_operand(node.right, rng)}"
    if isinstance(node, InList):
        items = ", ".join(render_operand(v, rng) for v in node.values)
        return f"{render_operand(node.item, rng)} in{space}[{items}{rng.choice(('', ',')) if items else ''}]"
    if isinstance(node, Not):
        inner = render(node.item, rng)
        return "!" + (inner if isinstance(node.item, Not) else f"({inner})")
    joiner = " && " if isinstance(node, And) else f"{space}||{space}"
    return joiner.join(wrap(item, rng) for item in node.items)


def wrap(node: Node, rng: random.Random) -> str:
    """Parenthesise where precedence needs it (and/or inside a chain), sometimes where it does not."""
    text = render(node, rng)
    return f"({text})" if isinstance(node, And | Or) or rng.random() < 0.2 else text


def expected_conditions(conditions: Sequence[Node]) -> list[Node]:
    # A rule that is one parenthesised && chain splits into its clauses.
    if len(conditions) == 1 and isinstance(conditions[0], And):
        return list(conditions[0].items)
    return list(conditions)


def near(kind: str, values: Sequence[Value]) -> list[Value]:
    """Values a comparison with these literals can tell apart: equal, one step off, prefixes..."""
    out: list[Value] = []
    for value in values:
        if isinstance(value, str):
            out += [
                value,
                value[:-1],
                value[1:],
                value + "\u0301",
                value + "a",
                value + "😀",
                "a" + value,
                value.upper(),
                value.lower(),
            ]
            if value:
                for step in (-1, 1):
                    code = ord(value[-1]) + step
                    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                        out.append(value[:-1] + chr(code))
        elif kind == "int":
            out += [v for v in (value, value - 1, value + 1) if INT64_MIN <= v <= INT64_MAX]
        else:
            out += [
                v
                for v in (value, value - 1, value + 1, value + 10**6, value - 10**6)
                if INT64_MIN <= v <= INT64_MAX
            ]
    if kind == "string":
        return out + list(SPECIAL_STRINGS)
    return out + list(INT_SPECIALS if kind == "int" else (*TS_SPECIALS, INT64_MIN, INT64_MAX))


@st.composite
def rows_around(draw: st.DrawFn, conditions: Sequence[Node], max_rows: int = 8) -> list[dict[str, Value]]:
    found: dict[str, list[Value]] = {}
    for node in conditions:
        for name, values in literals(node).items():
            found.setdefault(name, []).extend(values)
    # Every field also gets the literals of its type's other fields, so field == field can hold.
    by_type = {kind: [v for name in BY_TYPE[kind] for v in found.get(name, ())] for kind in BY_TYPE}
    pools = {name: near(kind, found.get(name, []) + by_type[kind]) for name, kind in FIELDS.items()}
    row_strategy = st.fixed_dictionaries(
        {name: st.one_of(st.sampled_from(pools[name]), literal_values(kind)) for name, kind in FIELDS.items()}
    )
    return draw(st.lists(row_strategy, min_size=1, max_size=max_rows))


@st.composite
def rule_cases(draw: st.DrawFn, max_rows: int = 8) -> tuple[str, list[Node], list[dict[str, Value]]]:
    conditions = draw(st.lists(nodes, min_size=1, max_size=4))
    rng = random.Random(draw(st.integers(0, 2**32)))
    text = " && ".join(wrap(node, rng) for node in conditions)
    return text, expected_conditions(conditions), draw(rows_around(conditions, max_rows))


# ---------------------------------------------------------------- tests

FOUNDERS = 'purchase.sku == "mi-1" && account.region == "CN" && purchase.status == "completed"'


def row(**overrides: Value) -> dict[str, Value]:
    values: dict[str, Value] = {name: ("" if kind == "string" else 0) for name, kind in FIELDS.items()}
    values.update({"purchase.sku": "mi-1", "account.region": "CN", "purchase.status": "completed"})
    values.update({key.replace("__", "."): value for key, value in overrides.items()})
    return values


@settings(max_examples=400, deadline=None)
@given(rule_cases())
@example(
    (
        'purchase.sku < "\\uffff"',
        [Compare("<", Field("purchase.sku", "string"), Literal("\uffff", "string"))],
        [row(purchase__sku="😀"), row(purchase__sku="\ue000"), row(purchase__sku="e\u0301")],
    )
)
def test_cel_agrees_with_the_reference_on_generated_rules(
    case: tuple[str, list[Node], list[dict[str, Value]]],
) -> None:
    text, conditions, rows = case
    rule = parse_rule(text)
    assert [c.node for c in rule.conditions] == conditions, text
    every_row = compile_rule(rule, memoize=False)
    memoized = compile_rule(rule)
    for values in rows:
        expected = evaluate_rule(rule, values)
        assert every_row.evaluate_conditions(values) == expected, (text, values)
        assert every_row.qualifies(values) == all(expected), (text, values)
        assert memoized.evaluate_conditions(values) == expected, (text, values)
        assert memoized.qualifies(values) == all(expected), (text, values)


def test_founders_rule_per_condition_and_verdict() -> None:
    compiled = compile_rule(FOUNDERS + ' && purchase.purchased_at <= timestamp("2011-12-07T23:59:59+08:00")')
    inside = row(purchase__purchased_at=parse_instant("2011-12-07T23:59:59+08:00"))
    outside = row(purchase__purchased_at=parse_instant("2011-12-07T16:30:00Z"))
    assert compiled.evaluate_conditions(inside) == [True, True, True, True]
    assert compiled.qualifies(inside)
    assert compiled.evaluate_conditions(outside) == [True, True, True, False]
    assert not compiled.qualifies(outside)
    assert compiled.evaluate_conditions(row(account__region="HK")) == [True, False, True, True]
    assert len(compiled.programs) == 4
    assert compiled.rule.conditions[1].name == 'account.region == "CN"'


def test_a_rule_without_conditions_qualifies_everything() -> None:
    compiled = compile_rule("  // all buyers\n")
    assert compiled.evaluate_conditions(row()) == []
    assert compiled.qualifies(row())


def test_refusals_come_from_the_parser_with_the_param() -> None:
    with pytest.raises(InputError) as info:
        compile_rule("purchase.sku == 1", param="campaign.qualify.rule")
    assert info.value.code == "rule_type_error"
    assert info.value.message.startswith("campaign.qualify.rule 1:14: ")


def test_cel_checker_errors_are_translated_with_their_position() -> None:
    # The parser refuses these first; the CEL checker is defence in depth, and its errors must read alike.
    src = Source('purchase.sku == "a" &&\n  purchase.sku == 1', "qualify.rule")
    with pytest.raises(InputError) as info:
        engine._compile(src.text, src, 0)
    assert info.value.code == "rule_type_error"
    assert info.value.message.startswith("qualify.rule 2:16: found no matching overload")
    with pytest.raises(InputError) as info:
        engine._compile("purchase.sku ==", Source("x && purchase.sku ==", "p"), 5)
    assert (info.value.code, info.value.message[:7]) == ("rule_syntax", "p 1:21:")


def test_values_of_the_wrong_type_are_a_type_error() -> None:
    compiled = compile_rule(FOUNDERS, memoize=False)
    with pytest.raises(TypeError):
        compiled.qualifies(row(purchase__sku=1))
    with pytest.raises(TypeError):
        compile_rule("purchase.purchased_at > timestamp('2011-01-01T00:00:00Z')").qualifies(
            row(purchase__purchased_at="2011")
        )


def test_datetimes_handed_to_cel_are_aware_utc() -> None:
    moment = to_cel_datetime(WINDOW_END)
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert moment.isoformat() == "2011-12-07T15:59:59+00:00"


def _cel_sees(instant_us: int) -> bool:
    """Whether the binding reads this instant exactly (compared with CEL's own literal parse)."""
    utc = datetime(1970, 1, 1) + timedelta(microseconds=instant_us)
    literal = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond:06d}Z"
    program = engine._ENV.compile(f'purchase.purchased_at == timestamp("{literal}")')
    result = program.eval(data={"purchase.purchased_at": to_cel_datetime(instant_us)}).value()
    return result is True


@pytest.mark.parametrize(
    "instant",
    [
        CEL_EXACT_MAX_US - 1,
        CEL_EXACT_MAX_US - 2,
        CEL_EXACT_MAX_US - 1_000_001,
        CEL_EXACT_MIN_US + 1,
        CEL_EXACT_MIN_US + 999_999,
        CEL_EXACT_MIN_US + 1_000_001,
        -1,
        0,
        WINDOW_END + 999_999,
        *(
            s * 1_000_000 + f
            for s in (2**33 + 12345, -(2**33) - 777, 2**34 - 1, -(2**34) + 1)
            for f in (999_999, 999_998, 1, 500_000)
        ),
    ],
)
def test_the_binding_reads_instants_exactly_inside_the_exact_range(instant: int) -> None:
    assert CEL_EXACT_MIN_US < instant < CEL_EXACT_MAX_US
    assert _cel_sees(instant)


@pytest.mark.parametrize(
    "instant", [2**34 * 1_000_000 + 999_999, TS_MAX_US - 1, TS_MIN_US, -(2**35) * 1_000_000 + 999_999]
)
def test_the_binding_defect_outside_the_exact_range_is_still_there(instant: int) -> None:
    # If this fails, cel-expr-python reads datetimes exactly now: CEL_EXACT_* can be widened.
    assert not _cel_sees(instant)


@pytest.mark.parametrize(
    "instant", [TS_MIN_US, TS_MAX_US - 1, INT64_MIN, INT64_MAX, CEL_EXACT_MAX_US + 999_999]
)
def test_instants_outside_the_exact_range_still_evaluate_right(instant: int) -> None:
    text = "purchase.purchased_at >= timestamp('2011-01-01T00:00:00Z') && account.region == 'CN'"
    for memoize in (False, True):
        compiled = compile_rule(text, memoize=memoize)
        values = row(purchase__purchased_at=instant)
        assert compiled.evaluate_conditions(values) == evaluate_rule(compiled.rule, values)


def test_conditions_whose_values_never_repeat_stop_memoizing_and_stay_right() -> None:
    compiled = compile_rule(
        'purchase.account_id == account.account_id && account.region == "CN" && '
        "purchase.purchased_at != account.registered_at && purchase.price > 5"
    )
    rng = random.Random(7)
    for i in range(3 * 4096 + 10):
        values = row(
            purchase__account_id=str(i),
            account__account_id=str(i if i % 3 else i + 1),
            purchase__purchased_at=rng.randint(0, 10**15),
            account__registered_at=rng.randint(0, 10**15),
            purchase__price=rng.randint(0, 10),
        )
        expected = evaluate_rule(compiled.rule, values)
        assert compiled.evaluate_conditions(values) == expected
        assert compiled.qualifies(values) == all(expected)
    plan = compiled._plan
    assert [c.index for c in plan.direct] == [0, 2]
    assert [c.index for c in plan.memoized] == [1, 3]


def test_memoizing_by_cell_keeps_the_memo_small() -> None:
    compiled = compile_rule('purchase.sku in ["mi-1", "mi-2"] && purchase.price >= 199900')
    for i in range(5000):
        compiled.qualifies(row(purchase__sku=f"sku-{i}", purchase__price=i * 97))
    memos = [c.memo for c in compiled._plan.memoized]
    assert all(memo is not None and len(memo) <= 5 for memo in memos)


def test_one_compiled_rule_is_safe_to_share_between_threads() -> None:
    compiled = compile_rule(FOUNDERS + " && purchase.purchase_id != purchase.serial")
    rng = random.Random(3)
    rows = [
        row(
            purchase__sku=rng.choice(["mi-1", "mi-2"]),
            account__region=rng.choice(["CN", "TW"]),
            purchase__purchase_id=str(rng.randint(0, 50)),
            purchase__serial=str(rng.randint(0, 50)),
        )
        for _ in range(3000)
    ]
    expected = [evaluate_rule(compiled.rule, v) for v in rows]
    failures: list[int] = []

    def work() -> None:
        failures.extend(i for i, v in enumerate(rows) if compiled.evaluate_conditions(v) != expected[i])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_cel_itself_orders_strings_by_code_point() -> None:
    # The order the SQL side uses (UTF-8 bytes); UTF-16 order would put U+FFFF after U+1F600.
    env = cel.NewEnv(variables={"s": cel.Type.STRING})
    program = env.compile('s > "\\uffff"')
    assert program.eval(data={"s": "😀"}).value() is True
