"""Candidate sets (ADR 29): what a manifest says, and whether it matches the approved terms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pledge.domain.campaign import CashbackTerms, TermsVersion
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.money import format_minor
from pledge.usecases.scan_ports import CandidateTotals

FORMAT = "pledge-candidates/1"


def check_manifest(manifest: Mapping[str, Any], version: TermsVersion) -> None:
    """Refuse (bad input, exit 2) a set selected for another campaign or other terms than the
    approved ones."""
    campaign = version.campaign_id
    if manifest.get("campaign") != campaign:
        raise InputError(
            f"candidates: the set was selected for campaign {manifest.get('campaign')!r}, not {campaign}",
            code="candidates_other_campaign",
            param="candidates",
        )
    if (
        manifest.get("terms_version") != version.version
        or manifest.get("content_hash") != version.content_hash
    ):
        raise InputError(
            f"candidates: the set was selected for version {manifest.get('terms_version')} "
            f"({manifest.get('content_hash')}) of {campaign}, but the approved terms are version "
            f"{version.version} ({version.content_hash}); select again with campaign select",
            code="candidates_terms_mismatch",
            param="candidates",
        )


def set_problem(terms: CashbackTerms, totals: CandidateTotals) -> RefusedError:
    """Why a candidate set blocks a run (what ``blocking_problems`` says of imported purchases)."""
    campaign = terms.campaign_id
    if totals.other_currency:
        return RefusedError(
            f"campaign {campaign}: nothing issued: {totals.other_currency} qualifying purchases were "
            f"paid in another currency than {terms.currency}; add a currency condition to the rule",
            code="currency_mismatch",
        )
    amount = terms.benefit.constant_minor
    shown = (
        "" if amount is None else f"a cashback of {format_minor(amount, terms.currency)} {terms.currency} "
    )
    return RefusedError(
        f"campaign {campaign}: nothing issued: {shown}exceeds the price paid for {totals.overpaid:,} "
        "qualifying purchases; a refund can never exceed the price paid",
        code="amount_exceeds_price_paid",
    )
