"""Drive a transfer the way a dispatcher must, against a rail: the tests' one loop.

Send; while the outcome is not final, ask the provider; resend the *same*
request only when the provider says it has never seen it. A new request id is
minted by the tests themselves, and only after a definitive failure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pledge.domain.payout_transfers import (
    Outcome,
    Transfer,
    TransferState,
    apply_answer,
    mark_sent,
)
from pledge.usecases.payout_ports import PayoutRail, TransferRequest

GRANT = "gr_00112233445566778899aabb"
CLIENT_TIMEOUT_S = 0.5  # the fakes hang three times as long


def transfer_of(amount: int = 19_990, seq: int = 1, rail: str = "wechat_transfer") -> Transfer:
    return Transfer(GRANT, seq, 1, rail, amount, "CNY", date(2026, 12, 4))


def request_of(transfer: Transfer, payee: str) -> TransferRequest:
    return TransferRequest(transfer.request_id, payee, transfer.amount_minor, "CNY", "Founders refund")


def drive(
    rail: PayoutRail,
    transfer: Transfer,
    payee: str,
    *,
    background: Callable[[], None] = lambda: None,
    rounds: int = 4,
) -> tuple[Transfer, list[Outcome]]:
    """Send, then resolve by asking only; returns the transfer and every outcome seen."""
    request = request_of(transfer, payee)
    transfer = mark_sent(transfer)
    answer = rail.send(request)
    seen = [answer.outcome]
    transfer = apply_answer(transfer, answer)
    while transfer.state in (TransferState.SUBMITTED, TransferState.UNKNOWN) and rounds:
        rounds -= 1
        background()
        answer = rail.query(request)
        seen.append(answer.outcome)
        if answer.outcome is Outcome.NOT_FOUND:  # never applied: the same request again is safe
            answer = rail.send(request)
            seen.append(answer.outcome)
        transfer = apply_answer(transfer, answer)
    return transfer, seen
