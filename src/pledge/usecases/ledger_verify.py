"""``ledger verify``: the chain, the balances, and that the books agree with the grants."""

from __future__ import annotations

from dataclasses import dataclass

from pledge.domain.grant import GrantState
from pledge.domain.ledger import (
    DAYS,
    ChainedTransfer,
    ChainVerifier,
    budget_account,
    compensation_account,
    grants_account,
)
from pledge.domain.money import format_minor
from pledge.usecases.corrections import check_clawbacks
from pledge.usecases.payout_books import PayoutPostings, check_payout_books
from pledge.usecases.ports import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CampaignBooks:
    """One campaign's books as verified: a cashback campaign's budget and unopened grants (minor
    units of ``currency``), or an offer's compensation days."""

    campaign_id: str
    currency: str | None = None
    budget_remaining_minor: int | None = None
    owed_unopened_minor: int | None = None
    compensation_days: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    """What ``ledger verify`` found: ``ok`` when ``problems`` is empty."""

    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]
    campaigns: tuple[CampaignBooks, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_ledger(uow_factory: UnitOfWorkFactory) -> LedgerCheck:
    verifier = ChainVerifier()
    books = _Postings()
    payouts = PayoutPostings()
    # Read-only: a verification never waits for, nor blocks, a writer (ADR 35).
    with uow_factory(read_only=True) as uow:
        for entry in uow.ledger.entries():
            verifier.feed(entry)
            payouts.feed(entry)
            books.feed(entry)
        head_seq, head_hash = uow.ledger.head()
        verifier.finish(head_seq, head_hash)
        check_payout_books(verifier, uow.payouts.totals())
        payouts.check(verifier, uow)
        campaigns: list[CampaignBooks] = []
        for record in uow.campaigns.all():
            if record.kind == "offer":
                campaigns.append(_check_offer(verifier, uow, record.campaign_id))
            elif (checked := _check_cashback(verifier, uow, record.campaign_id, books)) is not None:
                campaigns.append(checked)
    for orphan in sorted(books.issued)[: verifier.max_problems]:
        verifier.report(f"ledger posting {orphan} books grants that do not exist")
    return LedgerCheck(verifier.entries, head_seq, head_hash, tuple(verifier.problems), tuple(campaigns))


class _Postings:
    """The ledger's issue postings (id -> amount) and what expiries returned to each budget."""

    def __init__(self) -> None:
        self.issued: dict[str, int] = {}  # issue transfer id -> amount; checked ones are popped
        self.returned: dict[str, int] = {}  # budget account -> amount expiries returned to it

    def feed(self, entry: ChainedTransfer) -> None:
        transfer = entry.transfer
        if transfer.kind == "issue":
            self.issued[transfer.id] = transfer.amount
        elif transfer.kind == "expire":
            self.returned[transfer.credit_account] = (
                self.returned.get(transfer.credit_account, 0) + transfer.amount
            )
        elif transfer.kind == "reinstate":  # an expired grant re-opened: value taken back
            self.returned[transfer.debit_account] = (
                self.returned.get(transfer.debit_account, 0) - transfer.amount
            )


def _check_offer(verifier: ChainVerifier, uow: UnitOfWork, campaign_id: str) -> CampaignBooks:
    """Days granted as compensation must match the compensation records, day for day."""
    rows = uow.subscriptions.compensation_rows(campaign_id)
    recorded = sum(row.days_held for row in rows)  # what compensation_totals calls days
    booked = -verifier.balance(compensation_account(campaign_id), DAYS)
    if recorded != booked:
        verifier.report(
            f"campaign {campaign_id}: {recorded} compensation days recorded but the ledger granted {booked}"
        )
    return CampaignBooks(campaign_id, compensation_days=recorded)


def _check_cashback(
    verifier: ChainVerifier, uow: UnitOfWork, campaign_id: str, books: _Postings
) -> CampaignBooks | None:
    """The budget and the unopened grants as the ledger books them; None before it is funded."""
    budget = uow.budgets.get(campaign_id)
    if budget is None:
        return None
    currency = budget.currency
    totals = uow.grants.totals(campaign_id)
    _check_postings(verifier, campaign_id, currency, uow.grants.posting_totals(campaign_id), books.issued)
    _check_expired(verifier, campaign_id, totals, books.returned)
    outstanding = totals.get(GrantState.ISSUED.value, (0, 0))[1]
    booked_budget = verifier.balance(budget_account(campaign_id), currency)
    booked_owed = verifier.balance(grants_account(campaign_id), currency)
    if booked_budget != budget.remaining_minor:
        verifier.report(
            f"campaign {campaign_id}: budget remaining {format_minor(budget.remaining_minor, currency)} "
            f"but the ledger says {format_minor(booked_budget, currency)} {currency}"
        )
    if booked_owed != outstanding:
        verifier.report(
            f"campaign {campaign_id}: unopened grants total {format_minor(outstanding, currency)} "
            f"but the ledger owes {format_minor(booked_owed, currency)} {currency}"
        )
    if budget.remaining_minor < 0:
        verifier.report(f"campaign {campaign_id}: budget is negative")
    check_clawbacks(verifier, campaign_id, currency, uow.corrections.clawback_totals)
    return CampaignBooks(campaign_id, currency, budget.remaining_minor, outstanding)


def _check_postings(
    verifier: ChainVerifier,
    campaign_id: str,
    currency: str,
    granted: dict[str, int],
    postings: dict[str, int],
) -> None:
    """Each issue posting equals the sum of the grants naming it (the grants are its sub-ledger)."""
    for posting_id, total in sorted(granted.items()):
        booked = postings.pop(posting_id, None)
        if booked != total:
            verifier.report(
                f"campaign {campaign_id}: grants booked by {posting_id} total "
                f"{format_minor(total, currency)} {currency} but the ledger posting says "
                f"{format_minor(booked, currency) if booked is not None else 'nothing (missing)'}"
            )


def _check_expired(
    verifier: ChainVerifier, campaign_id: str, totals: dict[str, tuple[int, int]], returned: dict[str, int]
) -> None:
    """Every expired grant's value went back to its budget through the ledger, and nothing more."""
    expired = totals.get(GrantState.EXPIRED.value, (0, 0))[1]
    booked = returned.get(budget_account(campaign_id), 0)
    if booked != expired:
        verifier.report(
            f"campaign {campaign_id}: expired grants total {expired} but the ledger returned {booked} "
            "to the budget"
        )
