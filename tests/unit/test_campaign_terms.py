from __future__ import annotations

from typing import Any

import pytest

from pledge.domain.campaign import (
    CampaignState,
    TermsVersion,
    check_approval,
    check_transition,
    parse_cashback_terms,
)
from pledge.domain.errors import InputError, RefusedError
from tests.support.data import campaign

DOC = campaign()
doc = campaign


def test_parses_the_contract_example() -> None:
    terms = parse_cashback_terms(DOC)
    assert terms.max_amount_minor == 199900
    assert terms.fixed_amount_minor is None
    assert terms.budget_minor == 5_000_000_000
    assert terms.grant_amount(199900, terms.window.start_us) == 199900
    assert terms.grant_amount(149900, terms.window.start_us) == 149900
    assert terms.grant_amount(299900, terms.window.start_us) == 199900


def test_hash_is_stable_and_content_bound() -> None:
    a = parse_cashback_terms(DOC)
    assert a.content_hash == parse_cashback_terms(campaign()).content_hash
    assert a.content_hash != parse_cashback_terms(doc(budget="1.00")).content_hash
    # The canonical form parses back to the same terms (stored versions are re-read from it).
    assert parse_cashback_terms(a.canonical()) == a


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"id": "Founders Refund"}, "id"),
        ({"timezone": "CST"}, "timezone"),
        ({"currency": "XXX"}, "currency"),
        ({"budget": 50000000.0}, "budget"),
        ({"budget": "-1.00"}, "budget"),
        ({"benefit": {"amount": "19.999"}}, "benefit.amount"),
        ({"limits": {"per_account": 0}}, "limits.per_account"),
        ({"payout": {"claim_within": "1 month"}}, "payout.claim_within"),
        ({"qualify": {"purchased": {"from": "2011-12-07", "to": "2011-09-01"}}}, "purchased"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], param: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_cashback_terms(doc(**changes))
    assert caught.value.param == param


def test_four_eyes() -> None:
    version = TermsVersion("c", 1, "sha256:x", {}, "alice", 0)
    with pytest.raises(RefusedError) as caught:
        check_approval(version, "alice")
    assert caught.value.code == "four_eyes"
    check_approval(version, "bob")
    approved = TermsVersion("c", 1, "sha256:x", {}, "alice", 0, "bob", 1, "sha256:x")
    assert approved.approved
    stale = TermsVersion("c", 1, "sha256:x", {}, "alice", 0, "bob", 1, "sha256:other")
    assert not stale.approved


def test_lifecycle() -> None:
    check_transition("c", CampaignState.DRAFT, CampaignState.APPROVED)
    check_transition("c", CampaignState.ACTIVE, CampaignState.PAUSED)
    check_transition("c", CampaignState.PAUSED, CampaignState.ACTIVE)
    with pytest.raises(RefusedError, match="draft and cannot become active"):
        check_transition("c", CampaignState.DRAFT, CampaignState.ACTIVE)
    with pytest.raises(RefusedError):
        check_transition("c", CampaignState.SETTLED, CampaignState.ACTIVE)
