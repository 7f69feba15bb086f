"""Payout results as JSON: ``pledge payouts list|reconcile --json`` and the console's payout pages
(ADR 24, ADR 27). Amounts are formatted here from integer minor units."""

from __future__ import annotations

from typing import Any

from pledge.domain.money import format_minor
from pledge.usecases.common import Page
from pledge.usecases.payout_listing import payout_json
from pledge.usecases.payout_ports import PayoutRecord
from pledge.usecases.payout_reconcile import (
    AmountMismatch,
    MissingAtProvider,
    MissingInLedger,
    Reconciliation,
)


def payouts_json(page: Page[PayoutRecord]) -> dict[str, Any]:
    """``pledge payouts list --json``: a Stripe-style list of transfers."""
    return {"object": "list", "data": [payout_json(r) for r in page.rows], "has_more": page.has_more}


def _missing_in_ledger(line: MissingInLedger) -> dict[str, Any]:
    return {
        "reference": line.reference,
        "amount": format_minor(line.amount_minor, line.currency),
        "currency": line.currency,
        "our_state": None if line.our_state is None else line.our_state.value,
    }


def _amount_mismatch(line: AmountMismatch) -> dict[str, Any]:
    return {
        "reference": line.reference,
        "transfer": line.transfer,
        "ours": format_minor(line.ours_minor, line.our_currency),
        "theirs": format_minor(line.theirs_minor, line.their_currency),
        "currency": line.our_currency,
    }


def _missing_at_provider(transfer: MissingAtProvider) -> dict[str, Any]:
    return {
        "reference": transfer.reference,
        "transfer": transfer.transfer,
        "amount": format_minor(transfer.amount_minor, transfer.currency),
        "currency": transfer.currency,
    }


def reconciliation_json(report: Reconciliation) -> dict[str, Any]:
    """``pledge payouts reconcile --json`` and the console's reconciliation page."""
    return {
        "object": "payout_reconciliation",
        "rail": report.rail,
        "days": [d.isoformat() for d in report.days],
        "matched": report.matched,
        "missing_at_provider": [_missing_at_provider(t) for t in report.missing_at_provider],
        "missing_in_ledger": [_missing_in_ledger(line) for line in report.missing_in_ledger],
        "amount_mismatch": [_amount_mismatch(line) for line in report.amount_mismatch],
        "differences": report.differences,
    }
