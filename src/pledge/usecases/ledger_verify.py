"""``ledger verify``: the chain, the balances, and that the books agree with the grants."""

from __future__ import annotations

from typing import Any

from pledge.domain.grant import GrantState
from pledge.domain.ledger import DAYS, ChainVerifier, budget_account, compensation_account, grants_account
from pledge.domain.money import format_minor
from pledge.usecases.ports import UnitOfWorkFactory


def verify_ledger(uow_factory: UnitOfWorkFactory) -> dict[str, Any]:
    verifier = ChainVerifier()
    with uow_factory() as uow:
        for entry in uow.ledger.entries():
            verifier.feed(entry)
        head_seq, head_hash = uow.ledger.head()
        verifier.finish(head_seq, head_hash)
        campaigns: list[dict[str, Any]] = []
        for record in uow.campaigns.all():
            if record.kind == "offer":
                # Days granted as compensation must match the compensation records, day for day.
                recorded = sum(t["days"] for t in uow.subscriptions.compensation_totals(record.campaign_id))
                booked = -verifier.balance(compensation_account(record.campaign_id), DAYS)
                if recorded != booked:
                    verifier.problems.append(
                        f"campaign {record.campaign_id}: {recorded} compensation days recorded but the "
                        f"ledger granted {booked}"
                    )
                campaigns.append({"campaign": record.campaign_id, "compensation_days": recorded})
                continue
            budget = uow.budgets.get(record.campaign_id)
            if budget is None:
                continue
            totals = uow.grants.totals(record.campaign_id)
            outstanding = totals.get(GrantState.ISSUED.value, (0, 0))[1]
            booked_budget = verifier.balance(budget_account(record.campaign_id), budget.currency)
            booked_owed = verifier.balance(grants_account(record.campaign_id), budget.currency)
            if booked_budget != budget.remaining_minor:
                verifier.problems.append(
                    f"campaign {record.campaign_id}: budget remaining {budget.remaining_minor} "
                    f"but the ledger says {booked_budget}"
                )
            if booked_owed != outstanding:
                verifier.problems.append(
                    f"campaign {record.campaign_id}: unopened grants total {outstanding} but the ledger owes "
                    f"{booked_owed}"
                )
            if budget.remaining_minor < 0:
                verifier.problems.append(f"campaign {record.campaign_id}: budget is negative")
            campaigns.append(
                {
                    "campaign": record.campaign_id,
                    "currency": budget.currency,
                    "budget_remaining": format_minor(budget.remaining_minor, budget.currency),
                    "owed_unopened": format_minor(outstanding, budget.currency),
                }
            )
    return {
        "ok": not verifier.problems,
        "entries": verifier.entries,
        "head_seq": head_seq,
        "head_hash": head_hash,
        "problems": verifier.problems,
        "campaigns": campaigns,
    }
