"""The demo's messages: every holder of an envelope is told, and reminded a week before it expires.

In-app messages only (what /me shows): the demo needs no mail server or SMS gateway. The links point
at the local ``pledge serve`` of the last step.
"""

from __future__ import annotations

from pledge.bootstrap import App, FixedClock, notification_renderer
from pledge.domain.notifications import Channel
from pledge.domain.timeutil import format_instant, parse_instant
from pledge.entrypoints.cli.demo_steps import step
from pledge.entrypoints.cli.options import out
from pledge.usecases.notification_ports import TemplateRenderer
from pledge.usecases.notify import send_distribution
from pledge.usecases.notify_deliver import DeliveryRun, deliver
from pledge.usecases.notify_unsubscribe import inapp_messages
from pledge.usecases.ports import Clock

LOCAL_URL = "http://127.0.0.1:8000"
REMIND_AT = "2021-09-03T09:00:00+08:00"  # a week before the 30-day window of the demo ends


def tell_and_remind(app: App, campaign: str, operator: str, customer: str) -> None:
    """Two steps: a held distribution of ``grant_issued`` delivered, then the automatic reminder."""
    renderer = notification_renderer({"PLEDGE_PUBLIC_URL": LOCAL_URL})  # the demo's links, not the env's
    step(
        8,
        "Tell every customer",
        "A distribution tells every holder of an unopened envelope, in their own language, on every channel\n"
        "they have (here in-app, shown on /me). It is held 10 minutes so that a mistake can be cancelled,\n"
        "then delivered: one message per person and channel, ever, even if delivery runs twice.",
    )
    sent = send_distribution(
        app.uow, app.clock, campaign, "grant_issued", [Channel.INAPP], 600_000_000, operator
    )
    out.print(
        f"  distribution {sent.id[:14]}…: {sent.counts.recipients:,} recipients, "
        f"held until {format_instant(sent.hold_until_us)}"
    )
    held = FixedClock(app.clock.now_us() + 600_000_001)
    first = _deliver(app, held, renderer)
    again = _deliver(app, held, renderer)
    out.print(f"  delivered after the hold: {first.sent:,} sent; delivering again: {again.sent} sent")

    reminded_at = parse_instant(REMIND_AT)
    step(
        9,
        "A reminder before the envelope expires",
        f"At {format_instant(reminded_at)}, a week before the window ends, delivery reminds every holder\n"
        "of an unopened envelope by itself (grant_expiring, once per offset: 7 days and 1 day by default).",
    )
    reminded = _deliver(app, FixedClock(reminded_at), renderer)
    out.print(f"  reminders queued and sent: {reminded.reminders_queued:,}")
    for message in inapp_messages(app.uow, customer, limit=2):
        out.print(f"  {customer} reads on /me: [bold]{message.title}[/] — {message.body}", soft_wrap=True)


def _deliver(app: App, clock: Clock, renderer: TemplateRenderer) -> DeliveryRun:
    return deliver(app.uow, clock, app.wall_clock, {}, renderer)
