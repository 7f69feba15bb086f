"""The CEL subset parser: what it accepts, what it refuses (code and position), and the oracle."""

from __future__ import annotations

import pytest

from pledge.domain.errors import InputError
from pledge.domain.money import INT64_MAX, INT64_MIN
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules import (
    FIELDS,
    MAX_DEPTH,
    MAX_LENGTH,
    STORAGE,
    And,
    Compare,
    Field,
    InList,
    Literal,
    Not,
    Or,
    Value,
    evaluate,
    evaluate_rule,
    fields_of,
    literals,
    parse_rule,
    values_of,
)
from pledge.domain.timeutil import parse_instant

SKU = Field("purchase.sku", "string")
PRICE = Field("purchase.price", "int")
AT = Field("purchase.purchased_at", "timestamp")
REGION = Field("account.region", "string")

FOUNDERS = (
    'purchase.sku == "mi-1" && account.region == "CN" && purchase.status == "completed"\n'
    '  && purchase.purchased_at <= timestamp("2011-12-07T23:59:59+08:00")'
)


def refusal(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        parse_rule(text)
    return info.value


def where(error: InputError) -> str:
    """The ``line:column`` the message names."""
    return error.message.split(": ", 1)[0].split(" ")[1]


def test_founders_rule_splits_into_named_conditions() -> None:
    rule = parse_rule(FOUNDERS)
    assert [c.name for c in rule.conditions] == [
        'purchase.sku == "mi-1"',
        'account.region == "CN"',
        'purchase.status == "completed"',
        'purchase.purchased_at <= timestamp("2011-12-07T23:59:59+08:00")',
    ]
    for condition in rule.conditions:
        assert FOUNDERS[condition.start : condition.start + len(condition.name)] == condition.name
    assert rule.conditions[3].node == Compare(
        "<=", AT, Literal(parse_instant("2011-12-07T15:59:59Z"), "timestamp")
    )
    assert rule.fields == ("purchase.sku", "account.region", "purchase.status", "purchase.purchased_at")


@pytest.mark.parametrize("text", ["", "   ", "// nothing to check\n", "true", "(true)", " true // all\n"])
def test_empty_or_true_rule_has_no_conditions(text: str) -> None:
    rule = parse_rule(text)
    assert rule.conditions == ()
    assert rule.node is None


def test_parenthesised_clauses_are_one_condition_named_without_outer_parentheses() -> None:
    rule = parse_rule('((purchase.sku == "a" || purchase.sku == "b")) && !(purchase.price < 5)')
    assert [c.name for c in rule.conditions] == [
        'purchase.sku == "a" || purchase.sku == "b"',
        "!(purchase.price < 5)",
    ]
    assert rule.conditions[0].start == 2
    assert rule.conditions[1].node == Not(Compare("<", PRICE, Literal(5, "int")))


def test_whole_rule_in_parentheses_still_splits_and_inner_groups_do_not() -> None:
    rule = parse_rule('(purchase.sku == "a" && (purchase.price > 1 && purchase.price < 9))')
    assert [c.name for c in rule.conditions] == [
        'purchase.sku == "a"',
        "purchase.price > 1 && purchase.price < 9",
    ]


def test_or_at_the_top_is_a_single_condition() -> None:
    rule = parse_rule('purchase.sku == "a" && purchase.price > 1 || account.region == "CN"')
    assert len(rule.conditions) == 1
    assert isinstance(rule.conditions[0].node, Or)
    assert rule.conditions[0].node.items[0] == And(
        (Compare("==", SKU, Literal("a", "string")), Compare(">", PRICE, Literal(1, "int")))
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'"\u00e9"', "é"),
        (r'"\U0001F600"', "😀"),
        (r"'\x41\101\?\`'", "AA?`"),
        (r'"\a\b\f\n\r\t\v\\\"\'"', "\a\b\f\n\r\t\v\\\"'"),
        (r"r'\n'", "\\n"),
        ('R"a\'b"', "a'b"),
        ('"""x\n"y"\n"""', 'x\n"y"\n'),
        ("'''it's'''", "it's"),
        ('"😀e\u0301"', "😀e\u0301"),
        ('"a\tb"', "a\tb"),
    ],
)
def test_string_literals_decode_like_cel(text: str, value: str) -> None:
    rule = parse_rule(f"purchase.sku == {text}")
    assert rule.conditions[0].node == Compare("==", SKU, Literal(value, "string"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("007", 7),
        ("0x1F", 31),
        ("-0x10", -16),
        ("- 5", -5),
        (str(INT64_MAX), INT64_MAX),
        (str(INT64_MIN), INT64_MIN),
        ("-0x8000000000000000", INT64_MIN),
    ],
)
def test_int_literals(text: str, value: int) -> None:
    assert parse_rule(f"purchase.price > {text}").conditions[0].node == Compare(
        ">", PRICE, Literal(value, "int")
    )


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2011-12-07T23:59:59+08:00", "2011-12-07T15:59:59Z"),
        ("2011-12-07T16:30:00Z", "2011-12-07T16:30:00Z"),
        ("2011-12-07T23:59:59.999999-05:30", "2011-12-08T05:29:59.999999Z"),
        ("2011-12-07T23:59:59.5000000Z", "2011-12-07T23:59:59.5Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_timestamp_literals_become_epoch_microseconds(text: str, instant: str) -> None:
    node = parse_rule(f'purchase.purchased_at < timestamp("{text}")').conditions[0].node
    assert node == Compare("<", AT, Literal(parse_instant(instant), "timestamp"))


def test_in_lists_may_be_empty_and_end_with_a_comma() -> None:
    assert parse_rule("purchase.sku in []").conditions[0].node == InList(SKU, ())
    node = parse_rule('account.region in ["CN", "HK",]').conditions[0].node
    assert node == InList(REGION, (Literal("CN", "string"), Literal("HK", "string")))


def test_comments_and_newlines_are_whitespace() -> None:
    rule = parse_rule('purchase.sku == "a" // the phone\n&& purchase.price\n  > 1 // fen\n')
    assert [c.name for c in rule.conditions] == ['purchase.sku == "a"', "purchase.price\n  > 1"]


@pytest.mark.parametrize(
    ("text", "code", "position"),
    [
        ("purchase.sku == 1", "rule_type_error", "1:14"),
        ('purchase.price > "1"', "rule_type_error", "1:16"),
        ('purchase.purchased_at < "2011-12-07"', "rule_type_error", "1:23"),
        ("purchase.purchased_at == purchase.price", "rule_type_error", "1:23"),
        ('purchase.sku in ["a", 1]', "rule_type_error", "1:23"),
        ('purchase.sku in "abc"', "rule_type_error", "1:14"),
        ("purchase.sku", "rule_type_error", "1:1"),
        ('!purchase.sku == "a"', "rule_type_error", "1:1"),
        ("purchase.sku && purchase.price > 1", "rule_type_error", "1:14"),
        ("purchase.price > 1 || purchase.sku", "rule_type_error", "1:20"),
        ('purchase.sku == "a" &&\n  purchase.price == "x"', "rule_type_error", "2:18"),
        ('purchase.skuu == "a"', "rule_unknown_field", "1:1"),
        ('purchase == "a"', "rule_unknown_field", "1:1"),
        ('x == "a"', "rule_unknown_field", "1:1"),
        ('purchase.sku == "a" && account.country == "CN"', "rule_unknown_field", "1:24"),
        ("purchase.price == 1.0", "rule_unsupported", "1:19"),
        ("purchase.price == 1e3", "rule_unsupported", "1:19"),
        ("purchase.price == .5", "rule_unsupported", "1:19"),
        ("purchase.price == 1u", "rule_unsupported", "1:19"),
        ("purchase.price + 1 > 2", "rule_unsupported", "1:16"),
        ("purchase.price > -purchase.price", "rule_unsupported", "1:18"),
        ("purchase.price > --1", "rule_unsupported", "1:18"),
        ("purchase.sku == null", "rule_unsupported", "1:17"),
        ("size(purchase.sku) > 3", "rule_unsupported", "1:1"),
        ('purchase.sku.startsWith("mi")', "rule_unsupported", "1:1"),
        ('purchase.sku.matches("^mi")', "rule_unsupported", "1:1"),
        ("has(purchase.serial)", "rule_unsupported", "1:1"),
        ('purchase.sku == "a" ? true : false', "rule_unsupported", "1:21"),
        ('{"a": 1}["a"] == 1', "rule_unsupported", "1:1"),
        ("[1, 2].exists(x, x == purchase.price)", "rule_unsupported", "1:7"),
        ('timestamp("2011-12-07T00:00:00Z").getHours() == 0', "rule_unsupported", "1:34"),
        ("purchase.purchased_at < timestamp(1)", "rule_unsupported", "1:35"),
        ('purchase.sku == b"a"', "rule_unsupported", "1:17"),
        ('"a" == "a"', "rule_unsupported", "1:5"),
        ('purchase.sku == "a" && true', "rule_unsupported", "1:24"),
        ("false", "rule_unsupported", "1:1"),
        ('(purchase.sku == "a") == (purchase.price > 1)', "rule_unsupported", "1:23"),
        ('"a" in [purchase.sku]', "rule_unsupported", "1:9"),
        ("purchase.sku in [purchase.serial]", "rule_unsupported", "1:18"),
        ('purchase.sku == "\\u0000"', "rule_unsupported", "1:17"),
        ('.purchase.sku == "a"', "rule_unsupported", "1:1"),
        ('purchase.purchased_at < timestamp("2011-12-07T23:59:59.1234567Z")', "rule_unsupported", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07T23:59:59")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07 23:59:59Z")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07t23:59:59z")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07T23:59:59+0800")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07T23:59:60Z")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-02-30T00:00:00Z")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("0001-01-01T00:00:00+01:00")', "rule_syntax", "1:35"),
        ('purchase.purchased_at < timestamp("2011-12-07T00:00:00+24:00")', "rule_syntax", "1:35"),
        ("purchase.price > 9223372036854775808", "rule_syntax", "1:18"),
        ("purchase.price > -9223372036854775809", "rule_syntax", "1:18"),
        ('purchase.sku = "a"', "rule_syntax", "1:14"),
        ('purchase.sku == "a" & purchase.price > 1', "rule_syntax", "1:21"),
        ('purchase.sku == "a', "rule_syntax", "1:17"),
        ('purchase.sku == "a\nb"', "rule_syntax", "1:17"),
        ('purchase.sku == "\\q"', "rule_syntax", "1:18"),
        ('purchase.sku == r"a\\"', "rule_syntax", "1:17"),
        ("purchase.sku == r'''\\\\\\'''", "rule_syntax", "1:17"),
        ('purchase.sku == "\\ud800"', "rule_syntax", "1:18"),
        ('purchase.sku == "\\U00110000"', "rule_syntax", "1:18"),
        ('purchase.sku == "a" purchase.price > 1', "rule_syntax", "1:21"),
        ("purchase.sku ==", "rule_syntax", "1:16"),
        ('(purchase.sku == "a"', "rule_syntax", "1:21"),
        ('purchase.sku\u00a0== "a"', "rule_syntax", "1:13"),
        ("0x == purchase.price", "rule_syntax", "1:1"),
    ],
)
def test_refusals_name_code_and_position(text: str, code: str, position: str) -> None:
    error = refusal(text)
    assert (error.code, where(error)) == (code, position), error.message
    assert error.param == "qualify.rule"


def test_refusal_message_reads_like_cel_with_snippet_and_caret() -> None:
    assert refusal("purchase.sku == 1").message == (
        "qualify.rule 1:14: purchase.sku is a string but 1 is an int\n | purchase.sku == 1\n | .............^"
    )


def test_refusal_names_the_given_param_and_suggests_fields() -> None:
    with pytest.raises(InputError) as info:
        parse_rule('purchase.skus == "a"', param="campaigns[0].qualify.rule")
    assert info.value.param == "campaigns[0].qualify.rule"
    assert info.value.message.startswith("campaigns[0].qualify.rule 1:1: purchase.skus is not a field")
    assert "did you mean purchase.sku?" in info.value.message


def test_null_refusal_states_the_no_null_semantics() -> None:
    assert 'absent text is ""' in refusal('purchase.serial != null && purchase.sku == "a"').message


def test_limits_bound_length_depth_and_size() -> None:
    assert refusal(f'purchase.sku == "{"x" * MAX_LENGTH}"').code == "rule_too_complex"
    deep = "(" * (MAX_DEPTH + 1) + 'purchase.sku == "a"' + ")" * (MAX_DEPTH + 1)
    assert refusal(deep).code == "rule_too_complex"
    nots = "!" * (MAX_DEPTH + 1) + '(purchase.sku == "a")'
    assert refusal(nots).code == "rule_too_complex"
    ok = "(" * (MAX_DEPTH - 1) + 'purchase.sku == "a"' + ")" * (MAX_DEPTH - 1)
    assert len(parse_rule(ok).conditions) == 1
    wide = " || ".join(f"purchase.price == {i}" for i in range(100))
    assert refusal(wide).code == "rule_too_complex"
    big_list = "purchase.price in [" + ", ".join(str(i) for i in range(254)) + "]"
    assert len(parse_rule(big_list).conditions) == 1
    assert refusal(big_list.replace("[", "[1000, 1001, ")).code == "rule_too_complex"


def test_refusing_non_text() -> None:
    with pytest.raises(InputError):
        parse_rule(42)  # type: ignore[arg-type]  # the refusal is under test


def test_schema_covers_storage_and_values_of() -> None:
    assert set(FIELDS) == set(STORAGE)
    purchase = PurchaseRecord("p1", "a1", "mi-1", "IMEI1", 5, 199900, "CNY", "completed", "")
    account = AccountRecord("a1", "CN", 3)
    values = values_of(purchase, account)
    assert set(values) == set(FIELDS)
    assert values["purchase.price"] == 199900
    assert values["account.registered_at"] == 3


def test_evaluate_oracle() -> None:
    values: dict[str, Value] = {
        **dict.fromkeys((n for n, t in FIELDS.items() if t == "string"), ""),
        **dict.fromkeys((n for n, t in FIELDS.items() if t != "string"), 0),
        "purchase.sku": "mi-1",
        "account.region": "CN",
        "purchase.status": "completed",
        "purchase.purchased_at": parse_instant("2011-12-07T23:59:59+08:00"),
    }
    rule = parse_rule(FOUNDERS)
    assert evaluate_rule(rule, values) == [True, True, True, True]
    late: dict[str, Value] = {**values, "purchase.purchased_at": parse_instant("2011-12-07T16:30:00Z")}
    assert evaluate_rule(rule, late) == [True, True, True, False]
    assert evaluate(parse_rule('account.region in ["HK", "MO", "TW"]').conditions[0].node, values) is False
    assert evaluate(parse_rule("purchase.sku in []").conditions[0].node, values) is False
    assert evaluate(parse_rule('!(purchase.sku < "mi-10")').conditions[0].node, values) is False
    # Code-point order, as CEL and the databases use: "Z" < "a" < "é" < "😀"; "\uffff" < "😀".
    both = parse_rule('purchase.sku < "😀" && "\\uffff" < purchase.sku').node
    assert both is not None
    assert evaluate(both, {**values, "purchase.sku": "\U0001f5ff"})
    assert not evaluate(both, {**values, "purchase.sku": "😀"})


def test_literals_and_fields_of_enumerate_what_the_rule_reads() -> None:
    node = parse_rule(
        'purchase.sku in ["a", "b"] && ("a" != purchase.sku || purchase.price >= 3) && '
        "purchase.account_id == account.account_id"
    ).node
    assert node is not None
    assert literals(node) == {"purchase.sku": ("a", "b"), "purchase.price": (3,)}
    assert fields_of(node) == ("purchase.sku", "purchase.price", "purchase.account_id", "account.account_id")
