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
from typing import Final

from pledge.domain.errors import InputError
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


@dataclass(frozen=True, slots=True)
class MissingInLedger:
    """A paid line whose reference we do not hold as succeeded on this rail."""

    reference: str
    amount_minor: int
    currency: str
    our_state: TransferState | None  # None: no transfer has this reference


@dataclass(frozen=True, slots=True)
class AmountMismatch:
    """A paid line and our succeeded transfer that differ in amount or currency."""

    reference: str
    transfer: str
    ours_minor: int
    our_currency: str
    theirs_minor: int
    their_currency: str


@dataclass(frozen=True, slots=True)
class MissingAtProvider:
    """A transfer we hold as succeeded that the statement does not show paid."""

    reference: str
    transfer: str
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The statement against our transfers: each kind of difference listed up to ``MAX_LISTED``,
    ``differences`` counting them all."""

    rail: str
    days: tuple[date, ...]  # every day the statement covers, or its first and last past 31
    matched: int
    missing_at_provider: tuple[MissingAtProvider, ...]
    missing_in_ledger: tuple[MissingInLedger, ...]
    amount_mismatch: tuple[AmountMismatch, ...]
    differences: int


@dataclass(slots=True)
class _Differences:
    """What the statement and our transfers disagree on, by kind, each in full (the report cuts)."""

    matched: int = 0
    missing_in_ledger: list[MissingInLedger] = field(default_factory=list)
    amount_mismatch: list[AmountMismatch] = field(default_factory=list)
    missing_at_provider: list[MissingAtProvider] = field(default_factory=list)

    def compare(self, rail: str, reference: str, line: StatementLine, record: PayoutRecord | None) -> None:
        """One paid line against the transfer we hold under its reference (if any)."""
        if (
            record is None
            or record.transfer.rail != rail
            or record.transfer.state is not TransferState.SUCCEEDED
        ):
            our_state = record.transfer.state if record else None
            self.missing_in_ledger.append(
                MissingInLedger(reference, line.amount_minor, line.currency, our_state)
            )
        elif (record.transfer.amount_minor, record.transfer.currency) != (line.amount_minor, line.currency):
            tr = record.transfer
            self.amount_mismatch.append(
                AmountMismatch(
                    reference, record.id, tr.amount_minor, tr.currency, line.amount_minor, line.currency
                )
            )
        else:
            self.matched += 1

    def unlisted(self, record: PayoutRecord) -> None:
        """A transfer we hold as succeeded that the statement does not show paid."""
        tr = record.transfer
        self.missing_at_provider.append(
            MissingAtProvider(tr.request_id, record.id, tr.amount_minor, tr.currency)
        )

    @property
    def count(self) -> int:
        return len(self.missing_at_provider) + len(self.missing_in_ledger) + len(self.amount_mismatch)


def reconcile_payouts(
    uow_factory: UnitOfWorkFactory, rail: str, lines: Iterable[StatementLine]
) -> Reconciliation:
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
    return Reconciliation(
        rail=rail,
        days=tuple(sorted(days)) if len(days) <= 31 else (min(days), max(days)),
        matched=found.matched,
        missing_at_provider=tuple(found.missing_at_provider[:MAX_LISTED]),
        missing_in_ledger=tuple(found.missing_in_ledger[:MAX_LISTED]),
        amount_mismatch=tuple(found.amount_mismatch[:MAX_LISTED]),
        differences=found.count,
    )
