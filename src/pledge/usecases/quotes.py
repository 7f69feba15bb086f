"""``quote``: what a plan costs now, under which terms, and what it renews at."""

from __future__ import annotations

from dataclasses import dataclass

from pledge.domain.campaign import CampaignState
from pledge.domain.catalog import Plan
from pledge.domain.offers import Quote, quote, version_in_effect
from pledge.usecases.catalog import current_catalog
from pledge.usecases.common import offer_versions, require_account
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory

DEFAULT_TIMEZONE = "UTC"


def best_quote(uow: UnitOfWork, plan: Plan, at_us: int, tz_name: str) -> Quote:
    """The customer's best price among active offers covering ``plan`` now, or the list price.

    Best = lowest price per day of the first term (then the longer term, then
    the campaign id), so a customer is never quoted worse than an offer they
    could get.
    """
    quotes = [quote(plan, None, at_us, tz_name)]
    for record in uow.campaigns.all():
        if record.kind != "offer" or record.state is not CampaignState.ACTIVE:
            continue
        version = version_in_effect(offer_versions(uow, record.campaign_id), at_us)
        if version is not None and version.terms.covers(plan.id, at_us):
            quotes.append(quote(plan, version, at_us, tz_name))

    def rank(q: Quote) -> tuple[int, int, str]:
        days = max(1, (q.ends_at_us - q.starts_at_us) // 86_400_000_000)
        # price per day compared exactly: a/b < c/d  <=>  a*d < c*b
        return (q.price_minor * 10**9 // days, -(q.ends_at_us - q.starts_at_us), q.campaign_id or "~")

    return min(quotes, key=rank)


@dataclass(frozen=True, slots=True)
class AccountQuote:
    """The best price of a plan for one account now (``entrypoints.presenters.quote_json`` shows it)."""

    account_id: str
    quote: Quote


def quote_plan(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    account_id: str,
    plan_id: str,
    tz_name: str = DEFAULT_TIMEZONE,
) -> AccountQuote:
    now = clock.now_us()
    with uow_factory() as uow:
        require_account(uow, account_id)
        plan = current_catalog(uow).catalog.plan(plan_id)
        return AccountQuote(account_id, best_quote(uow, plan, now, tz_name))
