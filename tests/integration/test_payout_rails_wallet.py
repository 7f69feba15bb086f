"""The wallet rail against the fake wallet on loopback: faults are unknown until asked; one credit per id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from pledge.adapters.payouts.config import wallet_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.domain.payout_transfers import Outcome, TransferState, next_attempt
from tests.fakes.driving import CLIENT_TIMEOUT_S, drive, request_of, transfer_of
from tests.fakes.loopback import serving
from tests.fakes.wallet_server import WalletHandler, WalletProvider


@pytest.fixture
def wallet() -> Iterator[tuple[WalletProvider, WalletRail]]:
    provider = WalletProvider(secret=b"wallet-secret", hang_s=CLIENT_TIMEOUT_S * 3)
    with serving(WalletHandler, provider) as url:
        config = wallet_config({"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": "wallet-secret"})
        rail = WalletRail(config, timeout_s=CLIENT_TIMEOUT_S)
        yield provider, rail
        rail.close()


def test_wallet_credits_once_and_a_resend_returns_the_first_result(wallet) -> None:
    provider, rail = wallet
    transfer, seen = drive(rail, transfer_of(199_900, rail="wallet"), "acct-1")
    assert transfer.state is TransferState.SUCCEEDED and seen == [Outcome.SUCCEEDED]
    again = rail.send(request_of(transfer, "acct-1"))
    assert again.outcome is Outcome.SUCCEEDED
    assert provider.applied[transfer.request_id] == 1
    assert provider.balance_minor("acct-1") == 199_900


@pytest.mark.parametrize(
    ("fault", "first_reason"),
    [
        ("503", "http_503"),
        ("apply_then_503", "http_503"),
        ("apply_then_hang", "timeout"),
        ("apply_then_drop", "no_answer"),
    ],
)
def test_wallet_faults_are_unknown_until_the_wallet_is_asked(wallet, fault: str, first_reason: str) -> None:
    provider, rail = wallet
    provider.post_faults.append(fault)
    request = request_of(transfer_of(5_000, rail="wallet"), "acct-2")
    first = rail.send(request)
    assert first.outcome is Outcome.UNKNOWN and first.reason == first_reason
    transfer, seen = drive(rail, transfer_of(5_000, rail="wallet"), "acct-2")
    assert transfer.state is TransferState.SUCCEEDED
    assert provider.applied[request.request_id] == 1  # applied once, whatever the retries
    assert provider.balance_minor("acct-2") == 5_000
    assert seen[0] is Outcome.SUCCEEDED  # the resend replays the first result


def test_wallet_query_tells_never_applied_from_unreachable(wallet) -> None:
    provider, rail = wallet
    request = request_of(transfer_of(rail="wallet"), "acct-3")
    assert rail.query(request).outcome is Outcome.NOT_FOUND
    provider.query_faults.append("503")
    assert rail.query(request).outcome is Outcome.UNKNOWN


def test_wallet_same_id_other_payload_is_a_conflict_not_a_failure(wallet) -> None:
    provider, rail = wallet
    original = transfer_of(1_000, rail="wallet")
    assert rail.send(request_of(original, "acct-4")).outcome is Outcome.SUCCEEDED
    altered = request_of(replace(original, amount_minor=2_000), "acct-4")
    conflict = rail.send(altered)
    assert (conflict.outcome, conflict.reason) == (Outcome.UNKNOWN, "id_conflict")
    assert rail.query(altered).reason == "id_conflict"  # the query compares what the wallet holds
    assert provider.balance_minor("acct-4") == 1_000


def test_wallet_refusals_are_permanent_failures_and_only_they_mint_a_new_id(wallet) -> None:
    provider, rail = wallet
    provider.max_per_account_day = 10_000
    assert (
        rail.send(request_of(transfer_of(9_000, seq=1, rail="wallet"), "acct-5")).outcome is Outcome.SUCCEEDED
    )
    transfer, _ = drive(rail, transfer_of(2_000, seq=2, rail="wallet"), "acct-5")
    assert (transfer.state, transfer.reason) == (TransferState.FAILED, "daily_limit_exceeded")
    retry = next_attempt(transfer)
    assert retry.request_id != transfer.request_id and retry.attempt == 2


def test_wallet_checks_the_signature(wallet) -> None:
    provider, rail = wallet
    url = rail.config.url
    forger = WalletRail(wallet_config({"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": "guess"}))
    answer = forger.send(request_of(transfer_of(rail="wallet"), "acct-6"))
    assert (answer.outcome, answer.reason) == (Outcome.FAILED, "bad_signature")
    assert provider.bad_signatures == 1 and not provider.credits
    forger.close()
