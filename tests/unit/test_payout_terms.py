"""payout.rail and payout.split in a cashback campaign file."""

from __future__ import annotations

import pytest

from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.errors import InputError
from pledge.domain.payouts import WALLET_LIMITS, WECHAT_TRANSFER, WECHAT_TRANSFER_LIMITS
from tests.support.data import campaign


def _with_payout(**payout: object) -> dict[str, object]:
    doc = campaign()
    doc["payout"] = {**doc["payout"], **payout}
    return doc


def test_without_rail_the_wallet_pays_and_the_content_hash_is_unchanged() -> None:
    terms = parse_cashback_terms(campaign())
    assert terms.payout.rail == "wallet" and terms.payout.limits == WALLET_LIMITS
    assert "rail" not in terms.canonical()["payout"]


def test_rail_and_split_are_parsed_kept_in_the_canonical_form_and_hashed() -> None:
    split = {"max_per_transfer": "100.00", "max_per_account_day": "500.00", "max_count_per_account_day": 5}
    terms = parse_cashback_terms(_with_payout(rail="wechat_transfer", split=split))
    assert terms.payout.rail == WECHAT_TRANSFER
    limits = terms.payout.limits
    assert (limits.max_per_transfer, limits.max_per_account_day, limits.max_count_per_account_day) == (
        10_000,
        50_000,
        5,
    )
    assert limits.min_per_transfer == WECHAT_TRANSFER_LIMITS.min_per_transfer
    assert terms.canonical()["payout"]["split"] == split
    assert parse_cashback_terms(terms.canonical()) == terms
    plain = parse_cashback_terms(_with_payout(rail="wechat_transfer"))
    assert plain.payout.limits == WECHAT_TRANSFER_LIMITS
    assert plain.content_hash != terms.content_hash


@pytest.mark.parametrize(
    ("payout", "param"),
    [
        ({"rail": "alipay"}, "payout.rail"),
        ({"split": {"max_per_transfer": 200.0}}, "payout.split.max_per_transfer"),
        ({"split": {"max_count_per_account_day": 0}}, "payout.split.max_count_per_account_day"),
        ({"split": {"max_per_transfr": "1.00"}}, "payout.split.max_per_transfr"),
        ({"rail": "wechat_transfer", "split": {"max_per_transfer": "0.15"}}, "payout.split"),
    ],
)
def test_bad_payout_keys_are_refused_by_name(payout: dict[str, object], param: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_cashback_terms(_with_payout(**payout))
    assert caught.value.param == param or param in caught.value.message
