"""The sandbox wallet the demo pays through speaks the wallet protocol as CONTRACT.md writes it:
signed requests only, each credit id credited once, the same id with another payload refused."""

from __future__ import annotations

import httpx

from pledge.adapters.payouts.config import WalletConfig
from pledge.adapters.payouts.sandbox_wallet import SandboxWallet
from pledge.adapters.payouts.wallet import WalletRail
from pledge.domain.payout_transfers import Outcome
from pledge.usecases.payout_ports import TransferRequest


def test_credits_once_by_id_and_refuses_what_is_not_signed_or_differs() -> None:
    secret = b"sandbox-secret"
    wallet = SandboxWallet(secret)
    with wallet as url:
        rail = WalletRail(WalletConfig(url=url, secret=secret))
        request = TransferRequest("gw_1", "A-1", 199_990, "CNY", "refund")
        assert rail.send(request).outcome is Outcome.SUCCEEDED
        assert rail.send(request).outcome is Outcome.SUCCEEDED  # the same id again: the first result
        assert rail.query(request).outcome is Outcome.SUCCEEDED
        assert len(wallet.credits) == 1
        other = rail.send(TransferRequest("gw_1", "A-1", 100, "CNY", "refund"))
        assert other.outcome is not Outcome.SUCCEEDED  # the same id with another amount is never paid
        assert rail.query(TransferRequest("gw_2", "A-1", 100, "CNY", "x")).outcome is Outcome.NOT_FOUND
        unsigned = httpx.post(f"{url}/credits", content=b'{"credit_id": "gw_3"}')
        assert unsigned.status_code == 401
        rail.close()
    assert list(wallet.credits) == ["gw_1"]
