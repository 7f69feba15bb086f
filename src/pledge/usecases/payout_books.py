"""``ledger verify`` for payouts, transfer by transfer (ADR 27): every succeeded transfer is booked
paid once, for its amount, under its own request id; every payout posting belongs to a transfer we
hold; every transfer returned to the budget is booked returned once."""

from __future__ import annotations

from typing import Final

from pledge.domain.ledger import (
    ChainedTransfer,
    ChainVerifier,
    payouts_in_transit_account,
    payouts_paid_account,
)
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import IN_FLIGHT_STATES, TransferState
from pledge.usecases.ports import UnitOfWork

PAGE: Final = 1000
_BOOKED_ONCE: Final = {"paid": TransferState.SUCCEEDED, "returned": TransferState.RETURNED}


class PayoutPostings:
    """Fed the ledger's entries once (with the rest of ``ledger verify``); checked at the end."""

    def __init__(self) -> None:
        self.final: dict[str, dict[str, tuple[str, int]]] = {step: {} for step in _BOOKED_ONCE}
        self.referenced: dict[str, str] = {}  # transfer id -> one posting id naming it

    def feed(self, entry: ChainedTransfer) -> None:
        t = entry.transfer
        if not t.kind.startswith("payout_"):
            return
        step = t.kind.removeprefix("payout_")
        if step in self.final:
            request = t.id.removeprefix("payout:").rpartition(":")[0]
            self.final[step][request] = (t.ref, t.amount)
        self.referenced.setdefault(t.ref, t.id)

    def check(self, verifier: ChainVerifier, uow: UnitOfWork) -> None:
        for step, state in _BOOKED_ONCE.items():
            booked = dict(self.final[step])
            after = None
            while True:
                page = uow.payouts.page(
                    campaign_id=None, grant_id=None, state=state.value, starting_after=after, limit=PAGE
                )
                for record in page:
                    tr = record.transfer
                    found = booked.pop(tr.request_id, None)
                    if found != (record.id, tr.amount_minor):
                        verifier.report(
                            f"transfer {record.id} ({tr.request_id}) is {state.value} for "
                            f"{format_minor(tr.amount_minor, tr.currency)} {tr.currency} but the ledger "
                            f"books {'nothing' if found is None else format_minor(found[1], tr.currency)} "
                            f"as payout_{step}"
                        )
                if len(page) < PAGE:
                    break
                after = page[-1].id
            for request, (ref, _amount) in sorted(booked.items())[: verifier.max_problems]:
                verifier.report(
                    f"the ledger books payout_{step} for {request} ({ref}), not {state.value} here"
                )
        unheld = dict(self.referenced)
        after = None
        while unheld:
            page = uow.payouts.page(
                campaign_id=None, grant_id=None, state=None, starting_after=after, limit=PAGE
            )
            for record in page:
                unheld.pop(record.id, None)
            if len(page) < PAGE:
                break
            after = page[-1].id
        for ref in sorted(unheld)[: verifier.max_problems]:
            verifier.report(f"ledger posting {unheld[ref]} books a payout with no transfer ({ref})")


def check_payout_books(verifier: ChainVerifier, totals: dict[tuple[str, str, str], int]) -> None:
    """``ledger verify``: each rail's in-transit and paid-out balances equal its transfers' amounts."""
    in_flight = {s.value for s in IN_FLIGHT_STATES}
    expected: dict[tuple[str, str], int] = {}
    for (rail, currency, state), amount in totals.items():
        if state in in_flight:
            key = (payouts_in_transit_account(rail), currency)
        elif state == TransferState.SUCCEEDED.value:
            key = (payouts_paid_account(rail), currency)
        else:
            continue
        expected[key] = expected.get(key, 0) + amount
    rails = {rail for rail, _, _ in totals}
    for rail in sorted(rails):
        for account in (payouts_in_transit_account(rail), payouts_paid_account(rail)):
            currencies = {c for r, c, _ in totals if r == rail}
            for currency in sorted(currencies):
                booked, stored = verifier.balance(account, currency), expected.get((account, currency), 0)
                if booked != stored:
                    verifier.report(
                        f"{account}: transfers total {format_minor(stored, currency)} {currency} but the "
                        f"ledger holds {format_minor(booked, currency)}"
                    )
