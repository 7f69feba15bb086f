"""A provider's completion notice about one bill (WeChat MCHTRANSFER.BILL.FINISHED), applied (ADR 27).

The entry point has verified the signature and decrypted the resource; this applies what it says
through the same path as ``payouts sync`` (``payout_outcomes.apply_provider_answer``, under the
transfer's row lock), so a callback and a sync racing each other agree: the transfer state machine
decides, a redelivered or late notice changes nothing, and a final state never moves. A notice
is a claim about a bill, not an order: one naming another amount or payee than the stored transfer,
or a bill of an attempt we already replaced, changes nothing and is recorded for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pledge.domain.errors import RefusedError
from pledge.domain.payout_transfers import Outcome, ProviderAnswer
from pledge.domain.payouts import WALLET, parse_request_id, transfer_id
from pledge.usecases.payout_outcomes import apply_provider_answer
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory

APPLIED: Final = "applied"
STALE: Final = "stale"  # about an attempt already replaced by a newer one
UNKNOWN_BILL: Final = "unknown_bill"
MISMATCH: Final = "mismatch"


@dataclass(frozen=True, slots=True)
class BillNotice:
    rail: str
    request_id: str
    amount_minor: int
    payee: str  # WeChat: the openid the bill paid
    answer: ProviderAnswer


def _anomaly(uow: UnitOfWork, campaign_id: str, now_us: int, detail: str) -> None:
    uow.campaigns.record_event(campaign_id, "payout_anomaly", "system", now_us, {"detail": detail})


def receive_bill_notice(uow_factory: UnitOfWorkFactory, clock: Clock, notice: BillNotice) -> str:
    """Apply a verified notice; returns what became of it (applied, stale, unknown_bill, mismatch)."""
    now = clock.now_us()
    with uow_factory() as uow:
        record = uow.payouts.by_request(notice.request_id, for_update=True)
        if record is None:
            return _not_current(uow, notice, now)
        tr = record.transfer
        payee = record.account_id
        if tr.rail != WALLET:
            payee = uow.payouts.openids([record.account_id])[record.account_id]
        if tr.rail != notice.rail or tr.amount_minor != notice.amount_minor or payee != notice.payee:
            _anomaly(
                uow,
                record.campaign_id,
                now,
                f"{notice.rail} notice about {notice.request_id} names {notice.amount_minor} to "
                f"{notice.payee!r}, but transfer {record.id} is {tr.amount_minor} on {tr.rail}; not applied",
            )
            uow.commit()
            return MISMATCH
        try:
            apply_provider_answer(uow, record.id, notice.answer, now, 0)
        except RefusedError:
            return UNKNOWN_BILL  # a transfer never sent: nothing a notice can say about it
        uow.commit()
    return APPLIED


def _not_current(uow: UnitOfWork, notice: BillNotice, now_us: int) -> str:
    parsed = parse_request_id(notice.request_id)
    record = uow.payouts.get(transfer_id(parsed[0], parsed[1])) if parsed else None
    if parsed is None or record is None or record.transfer.attempt <= parsed[2]:
        return UNKNOWN_BILL
    if notice.answer.outcome is Outcome.SUCCEEDED:
        # We replaced this bill only after the provider said it failed; now it says it paid.
        _anomaly(
            uow,
            record.campaign_id,
            now_us,
            f"{notice.rail} says {notice.request_id} paid, but it had said that attempt failed and "
            f"transfer {record.id} is on attempt {record.transfer.attempt}",
        )
        uow.commit()
    return STALE
