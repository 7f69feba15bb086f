"""``payouts reconcile``: a provider's statement against our transfers; changes nothing (ADR 27).

A statement line counts as paid when its state is the provider's word for paid (WeChat
``SUCCESS``, the wallet's ``credited``). Each paid line is looked up by its reference (the request
id: WeChat ``out_bill_no``, wallet ``credit_id``):

- ``matched``: we hold that request as succeeded, for the same amount and currency;
- ``amount_mismatch``: we hold it as succeeded for another amount or currency;
- ``missing_in_ledger``: the provider paid it, and we do not hold it as paid (unknown reference,
  or a transfer in another state): money left that our books do not show;
- ``missing_at_provider``: a transfer we hold as succeeded, sent on one of the statement's days,
  that the statement does not show paid.

The statement's days are the dates of its ``finished_at`` values (as written: the provider's
local date); a transfer sent the day before may finish on the statement's first day, so it is
matched when present and not reported when absent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from pledge.domain.errors import InputError
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import TransferState
from pledge.domain.payouts import RAILS
from pledge.usecases.ports import UnitOfWorkFactory

PAID_STATES: Final = frozenset({"SUCCESS", "CREDITED", "SUCCEEDED"})
CHUNK: Final = 500
MAX_LISTED: Final = 1000  # differences listed in full; the counts are always exact


@dataclass(frozen=True, slots=True)
class StatementLine:
    reference: str
    amount_minor: int
    currency: str
    state: str
    finished_at: str


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def reconcile_payouts(
    uow_factory: UnitOfWorkFactory, rail: str, lines: Iterable[StatementLine]
) -> dict[str, Any]:
    if rail not in RAILS:
        raise InputError(f"rail: {rail!r} is not one of {', '.join(RAILS)}", param="rail")
    paid: dict[str, StatementLine] = {}
    days: set[date] = set()
    for line in lines:
        day = _day(line.finished_at)
        if day is not None:
            days.add(day)
        if line.state.strip().upper() in PAID_STATES:
            paid[line.reference] = line
    matched = 0
    missing_in_ledger: list[dict[str, Any]] = []
    mismatch: list[dict[str, Any]] = []
    missing_at_provider: list[dict[str, Any]] = []
    references = sorted(paid)
    with uow_factory() as uow:
        for start in range(0, len(references), CHUNK):
            held = uow.payouts.by_requests(references[start : start + CHUNK])
            for reference in references[start : start + CHUNK]:
                line, record = paid[reference], held.get(reference)
                if (
                    record is None
                    or record.transfer.rail != rail
                    or record.transfer.state is not TransferState.SUCCEEDED
                ):
                    missing_in_ledger.append(
                        {
                            "reference": reference,
                            "amount": format_minor(line.amount_minor, line.currency),
                            "currency": line.currency,
                            "our_state": record.transfer.state.value if record else None,
                        }
                    )
                elif (record.transfer.amount_minor, record.transfer.currency) != (
                    line.amount_minor,
                    line.currency,
                ):
                    tr = record.transfer
                    mismatch.append(
                        {
                            "reference": reference,
                            "transfer": record.id,
                            "ours": format_minor(tr.amount_minor, tr.currency),
                            "theirs": format_minor(line.amount_minor, line.currency),
                            "currency": tr.currency,
                        }
                    )
                else:
                    matched += 1
        if days:
            for record in uow.payouts.succeeded_sent_between(rail, min(days), max(days)):
                if record.transfer.request_id not in paid:
                    tr = record.transfer
                    missing_at_provider.append(
                        {
                            "reference": tr.request_id,
                            "transfer": record.id,
                            "amount": format_minor(tr.amount_minor, tr.currency),
                            "currency": tr.currency,
                        }
                    )
    return {
        "object": "payout_reconciliation",
        "rail": rail,
        "days": [d.isoformat() for d in sorted(days)]
        if len(days) <= 31
        else [min(days).isoformat(), max(days).isoformat()],
        "matched": matched,
        "missing_at_provider": missing_at_provider[:MAX_LISTED],
        "missing_in_ledger": missing_in_ledger[:MAX_LISTED],
        "amount_mismatch": mismatch[:MAX_LISTED],
        "differences": len(missing_at_provider) + len(missing_in_ledger) + len(mismatch),
    }
