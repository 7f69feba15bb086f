"""One schema per file kind: published as docs/schemas, enforced at every depth, with a did-you-mean."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pledge.adapters.files.documents import load_yaml
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.catalog import parse_catalog
from pledge.domain.errors import InputError
from pledge.domain.offers import parse_offer_terms
from pledge.domain.schemas import PUBLISHED, schema_text

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
REGENERATE = "pledge schemas --out docs/schemas"

# Each shipped example, the schema it follows and the parser that reads it.
EXAMPLES: dict[str, tuple[str, Callable[[Any], object]]] = {
    "founders-refund.yaml": ("cashback-campaign", parse_cashback_terms),
    "founders-refund-typo.yaml": ("cashback-campaign", parse_cashback_terms),
    "founders-tiers.yaml": ("cashback-campaign", parse_cashback_terms),
    "cloud-double-11-v1.yaml": ("offer-campaign", parse_offer_terms),
    "cloud-double-11-v2.yaml": ("offer-campaign", parse_offer_terms),
    "cloud-plans.yaml": ("plans", parse_catalog),
}


def example(name: str) -> dict[str, Any]:
    return load_yaml(resources.files("pledge.examples").joinpath(name).read_bytes(), name)


def published(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_published_schemas_are_what_the_code_enforces(name: str) -> None:
    path = SCHEMAS / f"{name}.schema.json"
    assert path.exists(), f"{path} is missing; run: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == schema_text(name), f"out of date; run: {REGENERATE}"
    jsonschema.Draft202012Validator.check_schema(published(name))


def test_every_shipped_example_is_listed_here() -> None:
    shipped = {p.name for p in resources.files("pledge.examples").iterdir() if p.name.endswith(".yaml")}
    assert shipped == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_validates_against_its_published_schema(name: str) -> None:
    kind, parse = EXAMPLES[name]
    document = example(name)
    jsonschema.Draft202012Validator(published(kind)).validate(document)
    parse(document)


def _objects(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield where, schema
        for key, value in schema.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _objects(value, f"{where}/{index}")


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_object_refuses_additional_properties(name: str) -> None:
    for where, schema in _objects(published(name)):
        if where.endswith("/properties/prices"):
            # A map from plan id to price: its keys are the plans, checked against applies_to.
            assert schema["additionalProperties"]["type"] == ["string", "integer"]
            continue
        assert schema.get("additionalProperties") is False, f"{name}: {where or '/'}"


def _key_paths(value: Any, path: str = "") -> Iterator[tuple[str, list[Any]]]:
    """(dotted path, key path) of every mapping key at every depth, map keys of prices excepted."""
    if isinstance(value, dict):
        for key, item in value.items():
            dotted = f"{path}.{key}" if path else str(key)
            if not path.endswith("prices"):
                yield dotted, [key]
            for inner, keys in _key_paths(item, dotted):
                yield inner, [key, *keys]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for inner, keys in _key_paths(item, f"{path}[{index}]"):
                yield inner, [index, *keys]


def _misspell(key: str) -> str:
    """One edit away: a letter doubled (``per_acount`` style typos are the same distance)."""
    return key[:-1] + key[-1] * 2


def _cases() -> Iterator[tuple[str, str, list[Any]]]:
    for name in ("founders-refund.yaml", "cloud-double-11-v2.yaml", "cloud-plans.yaml"):
        for dotted, keys in _key_paths(example(name)):
            yield name, dotted, keys


@pytest.mark.parametrize(("name", "dotted", "keys"), list(_cases()))
def test_every_key_at_every_depth_misspelt_is_refused_by_name(
    name: str, dotted: str, keys: list[Any]
) -> None:
    kind, parse = EXAMPLES[name]
    document = copy.deepcopy(example(name))
    parent = document
    for key in keys[:-1]:
        parent = parent[key]
    wrong = _misspell(keys[-1])
    parent[wrong] = parent.pop(keys[-1])
    expected = dotted.rsplit(".", 1)[0] + "." + wrong if "." in dotted else wrong
    with pytest.raises(InputError) as caught:
        parse(document)
    assert caught.value.code == "unknown_field"
    assert caught.value.param == expected
    assert f"{expected}: unknown field; did you mean {keys[-1]}?" in caught.value.message
    # The published schema refuses the same document.
    errors = list(jsonschema.Draft202012Validator(published(kind)).iter_errors(document))
    assert errors, f"{kind} schema accepts {expected}"


@pytest.mark.parametrize(
    ("section", "wrong", "right"),
    [
        ("limits", "per_acount", "per_account"),
        ("benefit", "max_amout", "max_amount"),
        ("payout", "claim_whithin", "claim_within"),
        ("payout", "chanel", "channel"),
    ],
)
def test_the_misspellings_from_the_trust_issue_are_refused(section: str, wrong: str, right: str) -> None:
    document = example("founders-refund.yaml")
    document[section] = {**document[section], wrong: document[section].pop(right, 1)}
    with pytest.raises(InputError) as caught:
        parse_cashback_terms(document)
    assert str(caught.value) == f"{section}.{wrong}: unknown field; did you mean {right}?"
    assert (caught.value.param, caught.value.code) == (f"{section}.{wrong}", "unknown_field")


def test_every_unknown_key_is_named_at_once_and_a_far_one_lists_the_known() -> None:
    document = example("founders-refund.yaml")
    document["limits"] = {"per_acount": 1}
    document["payout"]["colour"] = "red"
    with pytest.raises(InputError) as caught:
        parse_cashback_terms(document)
    # Likely typos first, then the rest, in one message.
    assert str(caught.value) == (
        "limits.per_acount: unknown field; did you mean per_account? "
        "Also: payout.colour: unknown field "
        "(known: channel, claim_within, rail, reinstate_review_above, split)"
    )
    assert caught.value.param == "limits.per_acount"


def test_group_and_stacking_are_part_of_the_cashback_schema() -> None:
    document = {**example("founders-refund.yaml"), "group": "founders", "stacking": "allowed"}
    jsonschema.Draft202012Validator(published("cashback-campaign")).validate(document)
    parse_cashback_terms(document)
    with pytest.raises(InputError, match="stackng: unknown field; did you mean stacking"):
        parse_cashback_terms({**document, "stackng": "allowed"})


def test_stored_canonical_documents_follow_the_schemas() -> None:
    """Stored versions are re-read through the same parsers: their canonical form must pass."""
    for name, (kind, parse) in EXAMPLES.items():
        canonical = parse(example(name)).canonical()  # type: ignore[attr-defined]  # every parser's result has one
        jsonschema.Draft202012Validator(published(kind)).validate(canonical)
        assert parse(canonical) == parse(example(name)), name


def test_a_misspelt_kind_is_named_not_read_as_a_cashback_campaign() -> None:
    with pytest.raises(InputError) as caught:
        parse_cashback_terms({**example("cloud-double-11-v1.yaml"), "kind": "ofer"})
    assert str(caught.value) == "kind: 'ofer' is not a kind of campaign; did you mean offer?"
    assert (caught.value.param, caught.value.code) == ("kind", "invalid_campaign")
