"""A subscription term's ledger postings: its payment, the discount an offer gave and its service
days when bought; the money and the days going back when refunded."""

from __future__ import annotations

from pledge.domain.ledger import (
    DAYS,
    REVENUE,
    Transfer,
    compensation_account,
    customer_payments_account,
    customer_service_account,
    discounts_account,
    service_pool_account,
)
from pledge.domain.periods import days_between
from pledge.domain.subscriptions import ReturnedDays, Term


def payment_transfers(term: Term, now: int, base_days: int) -> list[Transfer]:
    """Payment, the discount given, and the service days (the free part booked to the campaign)."""
    transfers = []
    if term.price_paid_minor:
        transfers.append(
            Transfer(
                f"pay:{term.id}",
                customer_payments_account(term.account_id),
                REVENUE,
                term.currency,
                term.price_paid_minor,
                "payment",
                term.id,
                now,
            )
        )
    discount = term.list_price_minor - term.price_paid_minor
    if discount > 0 and term.campaign_id:
        transfers.append(
            Transfer(
                f"discount:{term.id}",
                discounts_account(term.campaign_id),
                REVENUE,
                term.currency,
                discount,
                "discount",
                term.id,
                now,
            )
        )
    days = days_between(term.starts_at_us, term.ends_at_us, term.timezone)
    paid_days = min(days, base_days)
    transfers.append(
        Transfer(
            f"days:{term.id}",
            service_pool_account(term.plan_id),
            customer_service_account(term.account_id),
            DAYS,
            paid_days,
            "service",
            term.id,
            now,
        )
    )
    if days > paid_days and term.campaign_id:
        transfers.append(
            Transfer(
                f"bonus:{term.id}",
                discounts_account(term.campaign_id),
                customer_service_account(term.account_id),
                DAYS,
                days - paid_days,
                "bonus_days",
                term.id,
                now,
            )
        )
    return transfers


def refund_transfers(term: Term, amount: int, days: ReturnedDays, now: int) -> list[Transfer]:
    """Money back, and the days taken back to where they came from (compensation to its campaign)."""
    transfers = []
    if amount:
        transfers.append(
            Transfer(
                f"refund:{term.id}",
                REVENUE,
                customer_payments_account(term.account_id),
                term.currency,
                amount,
                "refund",
                term.id,
                now,
            )
        )
    if days.service > 0:
        transfers.append(
            Transfer(
                f"refund-days:{term.id}",
                customer_service_account(term.account_id),
                service_pool_account(term.plan_id),
                DAYS,
                days.service,
                "service_returned",
                term.id,
                now,
            )
        )
    if days.compensation > 0 and term.campaign_id:
        transfers.append(
            Transfer(
                f"refund-compensation:{term.id}",
                customer_service_account(term.account_id),
                compensation_account(term.campaign_id),
                DAYS,
                days.compensation,
                "compensation_returned",
                term.id,
                now,
            )
        )
    return transfers
