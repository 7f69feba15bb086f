"""Reading campaign and plans documents: no anchors or aliases, no repeated keys, bounded size and depth."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pledge.adapters.files.documents import MAX_DOCUMENT_BYTES, load_json, load_yaml, load_yaml_file
from pledge.domain.errors import InputError

# The classic "billion laughs": 342 bytes that a YAML loader following aliases expands to 9**9 strings.
BOMB = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def refused(text: bytes | str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_yaml(text, "campaign.yaml")
    return caught.value


def test_the_billion_laughs_is_refused_at_its_first_anchor_in_milliseconds() -> None:
    assert len(BOMB) == 342
    started = time.perf_counter()
    error = refused(BOMB)
    assert time.perf_counter() - started < 0.05
    assert (error.code, error.param) == ("invalid_yaml", "file")
    assert str(error) == "campaign.yaml line 1: anchor &a refused: files may not use anchors"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: *x\n", "alias *x refused"),
        ("base: &b {per_account: 1}\nlimits:\n  <<: *b\n", "anchor &b refused"),
        ("limits: !!python/object:os.system {}\n", None),
    ],
)
def test_aliases_anchors_and_tags_are_refused(text: str, reason: str | None) -> None:
    error = refused(text)
    if reason:
        assert reason in str(error)
    assert error.code == "invalid_yaml"


def test_a_key_written_twice_is_refused_with_both_lines() -> None:
    error = refused("limits:\n  per_account: 1\n  per_account: 5\n")
    assert error.code == "duplicate_key"
    assert str(error) == "campaign.yaml line 3: 'per_account' appears twice in one mapping (first on line 2)"
    with pytest.raises(InputError, match="appears twice") as caught:
        load_json(b'{"budget": "1.00", "budget": "9.00"}', "body")
    assert caught.value.code == "duplicate_key"


def test_depth_and_size_are_bounded() -> None:
    assert refused("a: " + "[" * 40 + "]" * 40).code == "too_deep"
    with pytest.raises(InputError) as caught:
        load_json("[" * 40 + "]" * 40, "body")
    assert caught.value.code == "too_deep"
    big = b"name: " + b"x" * MAX_DOCUMENT_BYTES
    assert refused(big).code == "document_too_large"


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * MAX_DOCUMENT_BYTES)
    with pytest.raises(InputError) as caught:
        load_yaml_file(path)
    assert caught.value.code == "document_too_large"
    assert str(path) in str(caught.value)


def test_a_list_as_a_key_is_refused_as_yaml() -> None:
    assert refused("? [a, b]\n: 1\n").code == "invalid_yaml"


def test_only_a_mapping_is_a_document() -> None:
    assert refused("- a\n- b\n").code == "invalid_yaml"
    assert refused("a: [\n").message.startswith("campaign.yaml line 2: not valid YAML")
    assert load_yaml("id: x\nfrom: 2011-09-01\n", "f")["id"] == "x"


def test_json_nesting_is_refused_before_parsing_and_strings_do_not_count() -> None:
    inside = "[" * 50 + '\\"{{'  # brackets inside a string are text, not nesting
    assert load_json('{"a": "' + inside + '"}') == {"a": "[" * 50 + '"{{'}
    assert load_json('{"a": ' + "[" * 31 + "]" * 31 + "}")["a"]
    started = time.monotonic()
    for hostile in ('{"a": ' + "[" * 32 + "]" * 32 + "}", "[" * 1_000_000, "{" * 500_000):
        with pytest.raises(InputError) as caught:
            load_json(hostile)
        assert caught.value.code == "too_deep", caught.value
    assert time.monotonic() - started < 1
