"""A subscription term's reminders: before it ends, and before a discounted first term renews at
list price; moved when its end moves."""

from __future__ import annotations

from pledge.domain.money import format_minor
from pledge.domain.subscriptions import Term, reminder_due_at
from pledge.domain.timeutil import format_instant, zone
from pledge.usecases.ports import UnitOfWork


def _reminder_ids(term: Term) -> tuple[str, str]:
    # Keyed by the end date: when compensation moves the end, the new reminders are new messages.
    return (
        f"renewal_reminder:{term.id}:{term.ends_at_us}",
        f"price_change_reminder:{term.id}:{term.ends_at_us}",
    )


def queue_reminders(uow: UnitOfWork, term: Term, now: int) -> None:
    """7 days before the end; and, for a discounted first term, before it rolls to list price."""
    due = reminder_due_at(term)
    payload = {
        "term_id": term.id,
        "plan": term.plan_id,
        "ends_at": format_instant(term.ends_at_us, zone(term.timezone)),
        "auto_renew": term.auto_renew,
    }
    renewal_id, price_id = _reminder_ids(term)
    uow.outbox.enqueue(renewal_id, "renewal_reminder", term.account_id, term.id, due, payload, now)
    if term.price_paid_minor < term.list_price_minor:
        price = {**payload, "renewal_price": format_minor(term.list_price_minor, term.currency)}
        uow.outbox.enqueue(price_id, "price_change_reminder", term.account_id, term.id, due, price, now)


def reschedule_reminders(uow: UnitOfWork, before: Term, after: Term, now: int) -> None:
    """The end moved: withdraw the reminders for the old end, queue them for the new one."""
    for message_id in _reminder_ids(before):
        uow.outbox.cancel(message_id)
    queue_reminders(uow, after, now)
