"""A launch that cannot pay everyone it promises: what falls short, and its acknowledgement.

The dry run's ``budget_exhausted`` are the qualifying purchases the budget leaves unpaid, in
issuance order. Launching anyway is a decision someone must take knowingly: ``campaign launch``
is refused (``budget_shortfall``) unless it is given that exact number, so an acknowledgement
given for yesterday's data does not cover today's.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any

from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import RefusedError
from pledge.domain.money import format_minor
from pledge.usecases.common import latest_version, require_campaign, selection_for, terms_of
from pledge.usecases.ports import RuleCompiler, UnitOfWork, UnitOfWorkFactory
from pledge.usecases.scan_ports import Selection
from pledge.usecases.simulate import plan_prepared


@dataclass(frozen=True, slots=True)
class Shortfall:
    """``purchases`` qualifying purchases would get nothing; ``missing_minor`` more would pay them."""

    purchases: int = 0
    missing_minor: int = 0
    budget_minor: int = 0

    def as_json(self, currency: str) -> dict[str, Any]:
        return {
            "purchases": self.purchases,
            "missing": format_minor(self.missing_minor, currency),
            "budget": format_minor(self.budget_minor, currency),
            "currency": currency,
        }


@dataclass(frozen=True, slots=True)
class ShortfallPreview:
    """What launching now would leave unpaid, in the campaign's currency."""

    shortfall: Shortfall
    currency: str


def shortfall(
    uow: UnitOfWork, terms: CashbackTerms, selection: Selection, qualifying: int | None = None
) -> Shortfall:
    """The dry run of a campaign about to launch (no grant of its own yet), as a shortfall.

    When every candidate's amount together fits the budget, nothing can fall short: no scan at all
    if ``qualifying`` candidates at the terms' cap fit, else one, and no candidate is decided (the
    common launch). Otherwise the run is planned twice: with the
    budget (who gets nothing) and with one that covers every candidate (what paying all costs).
    """
    budget = terms.budget_minor
    cap = terms.benefit.upper_bound_minor
    if qualifying is not None and cap is not None and qualifying * cap <= budget:
        return Shortfall(budget_minor=budget)  # ``qualifying`` (the dry run's count) at most ``cap`` each
    if uow.purchases.amount_bound(selection, terms) <= budget:
        return Shortfall(budget_minor=budget)
    with closing(uow.purchases.prepare(selection, terms, count_issued=False)) as prepared:
        every = prepared.totals()
        if every.amount_minor <= budget:
            return Shortfall(budget_minor=budget)
        within = plan_prepared(uow, terms, prepared, budget, from_issued=False)
        if not within.budget_exhausted:
            return Shortfall(budget_minor=budget)
        unlimited = plan_prepared(uow, terms, prepared, every.amount_minor, from_issued=False)
    return Shortfall(within.budget_exhausted, max(unlimited.amount_minor - budget, 0), budget)


def check_shortfall(terms: CashbackTerms, short: Shortfall, accepted: int | None) -> None:
    """Refuse unless ``accepted`` is exactly the shortfall (or there is none and nothing was given)."""
    if short.purchases == (accepted or 0):
        return
    campaign, currency = terms.campaign_id, terms.currency
    if not short.purchases:
        raise RefusedError(
            f"campaign {campaign}: the dry run now pays every qualifying purchase; launch without "
            f"accepting a shortfall (you accepted {accepted:,})",
            code="budget_shortfall",
            param="accept_shortfall",
        )
    stated = "" if accepted is None else f" (you accepted {accepted:,}: the data changed since)"
    raise RefusedError(
        f"campaign {campaign} cannot pay everyone it promises: {short.purchases:,} qualifying "
        f"purchases would get nothing; the budget of {format_minor(short.budget_minor, currency)} "
        f"{currency} is {format_minor(short.missing_minor, currency)} {currency} short of paying them "
        f"all{stated}. Raise the budget, or launch with --accept-shortfall {short.purchases} "
        f"(API: accept_shortfall) to accept it",
        code="budget_shortfall",
        param="accept_shortfall",
    )


def preview_shortfall(
    uow_factory: UnitOfWorkFactory, rules: RuleCompiler, campaign_id: str
) -> ShortfallPreview | None:
    """What launching the latest terms now would leave unpaid (None if it pays everyone)."""
    with uow_factory() as uow:
        require_campaign(uow, campaign_id)
        terms = terms_of(latest_version(uow, campaign_id))
        short = shortfall(uow, terms, selection_for(terms, rules))
    return ShortfallPreview(short, terms.currency) if short.purchases else None
