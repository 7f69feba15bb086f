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
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from pledge.domain.errors import InputError
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import TransferState
from pledge.domain.payouts import RAILS
from pledge.usecases.payout_ports import PayoutRecord
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


def _paid_lines(lines: Iterable[StatementLine]) -> tuple[dict[str, StatementLine], set[date]]:
    """The statement's paid lines by reference, and the days it covers."""
    paid: dict[str, StatementLine] = {}
    days: set[date] = set()
    for line in lines:
        day = _day(line.finished_at)
        if day is not None:
            days.add(day)
        if line.state.strip().upper() in PAID_STATES:
            paid[line.reference] = line
    return paid, days


@dataclass(slots=True)
class _Differences:
    """What the statement and our transfers disagree on, by kind, each in full (the report cuts)."""

    matched: int = 0
    missing_in_ledger: list[dict[str, Any]] = field(default_factory=list)
    amount_mismatch: list[dict[str, Any]] = field(default_factory=list)
    missing_at_provider: list[dict[str, Any]] = field(default_factory=list)

    def compare(self, rail: str, reference: str, line: StatementLine, record: PayoutRecord | None) -> None:
        """One paid line against the transfer we hold under its reference (if any)."""
        if (
            record is None
            or record.transfer.rail != rail
            or record.transfer.state is not TransferState.SUCCEEDED
        ):
            self.missing_in_ledger.append(
                {
                    "reference": reference,
                    "amount": format_minor(line.amount_minor, line.currency),
                    "currency": line.currency,
                    "our_state": record.transfer.state.value if record else None,
                }
            )
        elif (record.transfer.amount_minor, record.transfer.currency) != (line.amount_minor, line.currency):
            tr = record.transfer
            self.amount_mismatch.append(
                {
                    "reference": reference,
                    "transfer": record.id,
                    "ours": format_minor(tr.amount_minor, tr.currency),
                    "theirs": format_minor(line.amount_minor, line.currency),
                    "currency": tr.currency,
                }
            )
        else:
            self.matched += 1

    def unlisted(self, record: PayoutRecord) -> None:
        """A transfer we hold as succeeded that the statement does not show paid."""
        tr = record.transfer
        self.missing_at_provider.append(
            {
                "reference": tr.request_id,
                "transfer": record.id,
                "amount": format_minor(tr.amount_minor, tr.currency),
                "currency": tr.currency,
            }
        )

    @property
    def count(self) -> int:
        return len(self.missing_at_provider) + len(self.missing_in_ledger) + len(self.amount_mismatch)


def reconcile_payouts(
    uow_factory: UnitOfWorkFactory, rail: str, lines: Iterable[StatementLine]
) -> dict[str, Any]:
    if rail not in RAILS:
        raise InputError(f"rail: {rail!r} is not one of {', '.join(RAILS)}", param="rail")
    paid, days = _paid_lines(lines)
    found = _Differences()
    references = sorted(paid)
    with uow_factory() as uow:
        for start in range(0, len(references), CHUNK):
            held = uow.payouts.by_requests(references[start : start + CHUNK])
            for reference in references[start : start + CHUNK]:
                found.compare(rail, reference, paid[reference], held.get(reference))
        if days:
            for record in uow.payouts.succeeded_sent_between(rail, min(days), max(days)):
                if record.transfer.request_id not in paid:
                    found.unlisted(record)
    return {
        "object": "payout_reconciliation",
        "rail": rail,
        "days": [d.isoformat() for d in sorted(days)]
        if len(days) <= 31
        else [min(days).isoformat(), max(days).isoformat()],
        "matched": found.matched,
        "missing_at_provider": found.missing_at_provider[:MAX_LISTED],
        "missing_in_ledger": found.missing_in_ledger[:MAX_LISTED],
        "amount_mismatch": found.amount_mismatch[:MAX_LISTED],
        "differences": found.count,
    }
