"""``ledger verify``: the chain, the balances, and that the books agree with the grants."""

from __future__ import annotations

from typing import Any

from pledge.domain.grant import GrantState
from pledge.domain.ledger import DAYS, ChainVerifier, budget_account, compensation_account, grants_account
from pledge.domain.money import format_minor
from pledge.usecases.corrections import check_clawbacks
from pledge.usecases.payout_books import PayoutPostings, check_payout_books
from pledge.usecases.ports import UnitOfWorkFactory


def verify_ledger(uow_factory: UnitOfWorkFactory) -> dict[str, Any]:
    verifier = ChainVerifier()
    postings: dict[str, int] = {}  # issue transfer id -> amount
    returned: dict[str, int] = {}  # budget account -> amount expiries returned to it
    payouts = PayoutPostings()
    with uow_factory() as uow:
        for entry in uow.ledger.entries():
            verifier.feed(entry)
            payouts.feed(entry)
            if entry.transfer.kind == "issue":
                postings[entry.transfer.id] = entry.transfer.amount
            elif entry.transfer.kind == "expire":
                credit = entry.transfer.credit_account
                returned[credit] = returned.get(credit, 0) + entry.transfer.amount
            elif entry.transfer.kind == "reinstate":  # an expired grant re-opened: value taken back
                debit = entry.transfer.debit_account
                returned[debit] = returned.get(debit, 0) - entry.transfer.amount
        head_seq, head_hash = uow.ledger.head()
        verifier.finish(head_seq, head_hash)
        check_payout_books(verifier, uow.payouts.totals())
        payouts.check(verifier, uow)
        campaigns: list[dict[str, Any]] = []
        for record in uow.campaigns.all():
            if record.kind == "offer":
                # Days granted as compensation must match the compensation records, day for day.
                rows = uow.subscriptions.compensation_rows(record.campaign_id)
                recorded = sum(row.days_held for row in rows)  # what compensation_totals calls days
                booked = -verifier.balance(compensation_account(record.campaign_id), DAYS)
                if recorded != booked:
                    verifier.report(
                        f"campaign {record.campaign_id}: {recorded} compensation days recorded but the "
                        f"ledger granted {booked}"
                    )
                campaigns.append({"campaign": record.campaign_id, "compensation_days": recorded})
                continue
            budget = uow.budgets.get(record.campaign_id)
            if budget is None:
                continue
            totals = uow.grants.totals(record.campaign_id)
            _check_postings(
                verifier,
                record.campaign_id,
                budget.currency,
                uow.grants.posting_totals(record.campaign_id),
                postings,
            )
            _check_expired(verifier, record.campaign_id, totals, returned)
            outstanding = totals.get(GrantState.ISSUED.value, (0, 0))[1]
            booked_budget = verifier.balance(budget_account(record.campaign_id), budget.currency)
            booked_owed = verifier.balance(grants_account(record.campaign_id), budget.currency)
            if booked_budget != budget.remaining_minor:
                verifier.report(
                    f"campaign {record.campaign_id}: budget remaining "
                    f"{format_minor(budget.remaining_minor, budget.currency)} but the ledger says "
                    f"{format_minor(booked_budget, budget.currency)} {budget.currency}"
                )
            if booked_owed != outstanding:
                verifier.report(
                    f"campaign {record.campaign_id}: unopened grants total "
                    f"{format_minor(outstanding, budget.currency)} but the ledger owes "
                    f"{format_minor(booked_owed, budget.currency)} {budget.currency}"
                )
            if budget.remaining_minor < 0:
                verifier.report(f"campaign {record.campaign_id}: budget is negative")
            check_clawbacks(verifier, record.campaign_id, budget.currency, uow.corrections.clawback_totals)
            campaigns.append(
                {
                    "campaign": record.campaign_id,
                    "currency": budget.currency,
                    "budget_remaining": format_minor(budget.remaining_minor, budget.currency),
                    "owed_unopened": format_minor(outstanding, budget.currency),
                }
            )
    for orphan in sorted(postings)[: verifier.max_problems]:
        verifier.report(f"ledger posting {orphan} books grants that do not exist")
    return {
        "ok": not verifier.problems,
        "entries": verifier.entries,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "problems": verifier.problems,
        "campaigns": campaigns,
    }


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
