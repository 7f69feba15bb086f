"""Four-eyes counts persons: one person's keys, spellings and widths are one person."""

from __future__ import annotations

import pytest

from pledge.domain.campaign import TermsVersion, check_approval
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.persons import check_person_name, key_actor, person_of, same_person


@pytest.mark.parametrize(
    "actor",
    ["ops.li", "ops.li (key_1)", "Ops.Li (key_2)", "  ops.li  ", "ｏｐｓ.ｌｉ", "ops.li (key_1) (key_2)"],
)
def test_every_key_and_spelling_of_a_person_is_that_person(actor: str) -> None:
    assert person_of(actor) == "ops.li"
    assert same_person(actor, key_actor("ops.li", "key_9"))


def test_different_people_stay_different() -> None:
    assert not same_person("ops.li (key_1)", "finance.wang (key_1)")
    assert not same_person("ops.li", "ops.lin")
    assert person_of("ops.li (not a key)") == "ops.li (not a key)"


def test_the_author_never_approves_with_any_of_their_keys() -> None:
    version = TermsVersion("c", 1, "sha256:x", {}, "ops.li (key_author)", 0)
    for approver in ("ops.li (key_second)", "OPS.LI", "ops.li"):
        with pytest.raises(RefusedError) as refused:
            check_approval(version, approver)
        assert refused.value.code == "four_eyes"
    check_approval(version, "finance.wang (key_other)")


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 81, "ops.li (key_1)", "ops.li）", "a\x00b", "\u202eil.spo"]
)
def test_a_key_name_cannot_pass_as_someone_else(name: str) -> None:
    with pytest.raises(InputError) as bad:
        check_person_name(name)
    assert bad.value.code == "invalid_person"


def test_a_key_name_is_kept_as_written_with_its_spaces_collapsed() -> None:
    assert check_person_name("  王 小明 ") == "王 小明"
