"""``pledge notify plan|send|cancel|deliver|status``: tell a campaign's customers, once (ADR 26)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pledge.bootstrap import App, notification_renderer, notification_senders
from pledge.domain.distributions import DEFAULT_HOLD, DEFAULT_LEASE, parse_channels, parse_hold_us
from pledge.domain.timeutil import parse_duration_us
from pledge.entrypoints.cli.app import app
from pledge.entrypoints.cli.audited import audited
from pledge.entrypoints.cli.options import (
    ActorOpt,
    DbOpt,
    JsonOpt,
    NowOpt,
    actor_name,
    app_for,
    emit,
    measuring,
    out,
)
from pledge.entrypoints.notify_json import delivery_json, plan_json, sent_json, status_json
from pledge.usecases.notify import (
    cancel_distribution,
    distribution_status,
    plan_distribution,
    send_distribution,
)
from pledge.usecases.notify_deliver import deliver

notify = typer.Typer(
    help="Tell a campaign's customers: plan, send after a cancellable hold, deliver, follow.",
    no_args_is_help=True,
)
app.add_typer(notify, name="notify")

TemplateOpt = Annotated[
    str, typer.Option("--template", help="grant_issued or grant_expiring (CONTRACT.md, templates).")
]
ChannelOpt = Annotated[str, typer.Option("--channel", help="Comma-separated: email, sms, inapp.")]


def _plan_lines(r: dict[str, Any]) -> None:
    by_channel = ", ".join(f"{c} {n:,}" for c, n in r["by_channel"].items())
    suppressed = ", ".join(f"{why.replace('_', ' ')} {n:,}" for why, n in r["suppressed"].items() if n)
    out.print(f"{r['recipients']:,} recipients: {by_channel}")
    out.print(f"not told: {suppressed or 'nobody'}")


@notify.command("plan")
def notify_plan(
    campaign_id: str,
    template: TemplateOpt,
    channel: ChannelOpt = "email,sms,inapp",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
) -> None:
    """Who would get what now, and who would not and why (nothing is written)."""
    with app_for(db, now) as pledge:
        result = plan_distribution(pledge.uow, pledge.clock, campaign_id, template, parse_channels(channel))
        emit(plan_json(result), as_json, _plan_lines)


@notify.command("send")
def notify_send(
    campaign_id: str,
    template: TemplateOpt,
    channel: ChannelOpt = "email,sms,inapp",
    hold: Annotated[
        str, typer.Option("--hold", help="How long it can be cancelled before anything leaves (0s: none).")
    ] = DEFAULT_HOLD,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Create a distribution; `notify deliver` sends it once the hold has passed, unless cancelled."""
    with app_for(db, now) as pledge:
        who = actor_name(actor)
        with audited(pledge, "notify.send", f"campaign:{campaign_id}", who, template=template) as call:
            result = send_distribution(
                call.uow,
                pledge.clock,
                campaign_id,
                template,
                parse_channels(channel),
                parse_hold_us(hold),
                who,
            )
        emit(
            sent_json(result),
            as_json,
            lambda r: out.print(
                f"distribution {r['id']}: {r['recipients']:,} recipients, "
                f"{r['state']} until {r['hold_until']} (cancel with: pledge notify cancel {r['id']})"
            ),
        )


def _status_line(r: dict[str, Any]) -> None:
    out.print(
        f"distribution {r['id']} ({r['template']}, {r['state']}): "
        f"queued {r['queued']:,}, sent {r['sent']:,}, failed {r['failed']:,} (unknown {r['unknown']:,}), "
        f"suppressed {r['suppressed']:,}"
    )


def _cancelled(pledge: App, distribution_id: str, who: str) -> dict[str, Any]:
    with audited(pledge, "notify.cancel", f"distribution:{distribution_id}", who) as call:
        return status_json(cancel_distribution(call.uow, pledge.clock, distribution_id, who))


@notify.command("cancel")
def notify_cancel(
    distribution_id: str,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Stop a distribution: nothing more of it is sent (repeating changes nothing)."""
    with app_for(db, now) as pledge:
        emit(
            _cancelled(pledge, distribution_id, actor_name(actor)),
            as_json,
            _status_line,
        )


@notify.command("status")
def notify_status(distribution_id: str, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of a distribution's messages: queued, sent, failed (unknown included), suppressed."""
    with app_for(db) as pledge:
        emit(status_json(distribution_status(pledge.uow, distribution_id)), as_json, _status_line)


@notify.command("deliver")
def notify_deliver(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    batch: Annotated[int, typer.Option("--batch", help="Messages claimed per transaction.")] = 100,
    max_messages: Annotated[int | None, typer.Option("--max", help="Send at most this many.", min=1)] = None,
    lease: Annotated[
        str, typer.Option("--lease", help="A claim older than this with no answer is recorded unknown.")
    ] = DEFAULT_LEASE,
) -> None:
    """Send what is due (distributions past their hold, reminders before expiry), in batches.

    Safe to re-run, to interrupt and to run in several processes: no message is sent twice.
    """
    with app_for(db, now) as pledge:
        senders = notification_senders()
        try:
            with (
                audited(pledge, "notify.deliver", "notifications:due", actor_name(None)) as call,
                measuring("delivering", "messages") as progress,
            ):
                result = deliver(
                    call.uow,
                    pledge.clock,
                    pledge.wall_clock,
                    senders,
                    notification_renderer(),
                    batch_size=batch,
                    max_messages=max_messages,
                    lease_us=parse_duration_us(lease, param="lease"),
                    progress=progress,
                )
        finally:
            for sender in senders.values():
                sender.close()
        emit(
            delivery_json(result),
            as_json,
            lambda r: out.print(
                f"sent {r['sent']:,}, failed {r['failed']:,}, to retry {r['retry']:,}, "
                f"unknown {r['unknown']:,}; "
                f"{r['released']:,} distributions released, {r['reminders_queued']:,} reminders queued"
            ),
        )
