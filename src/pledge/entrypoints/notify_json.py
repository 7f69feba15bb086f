"""Notification results as JSON: ``pledge notify … --json`` (CONTRACT.md, docs/schemas) and what the
console shows of distributions and previews (ADR 26)."""

from __future__ import annotations

from typing import Any

from pledge.domain.timeutil import format_instant
from pledge.usecases.notify import (
    DistributionCounts,
    DistributionPlan,
    DistributionSent,
    DistributionStatus,
    PlannedMessages,
)
from pledge.usecases.notify_deliver import DeliveryRun
from pledge.usecases.notify_funnel import DistributionFunnel
from pledge.usecases.notify_preview import MessagePreview


def _by_channel_and_reason(counts: PlannedMessages) -> dict[str, Any]:
    return {
        "by_channel": {c.value: n for c, n in counts.by_channel.items()},
        "suppressed": {r.value: n for r, n in counts.suppressed.items()},
    }


def _status_sums(counts: DistributionCounts) -> dict[str, int]:
    return {
        "queued": counts.queued,
        "sent": counts.sent,
        "failed": counts.failed,
        "suppressed": counts.suppressed,
    }


def plan_json(plan: DistributionPlan) -> dict[str, Any]:
    """``pledge notify plan --json``."""
    return {
        "campaign": plan.campaign,
        "template": plan.template,
        "recipients": plan.counts.recipients,
        **_by_channel_and_reason(plan.counts),
    }


def sent_json(sent: DistributionSent) -> dict[str, Any]:
    """``pledge notify send --json``."""
    return {
        "id": sent.id,
        "state": sent.state.value,
        "recipients": sent.counts.recipients,
        "hold_until": format_instant(sent.hold_until_us),
        **_by_channel_and_reason(sent.counts),
    }


def status_json(status: DistributionStatus) -> dict[str, Any]:
    """``pledge notify status --json`` and ``notify cancel --json``."""
    record, counts = status.record, status.counts
    return {
        "id": record.id,
        "campaign": record.campaign_id,
        "template": record.template,
        "state": record.state.value,
        "hold_until": format_instant(record.hold_until_us),
        "recipients": record.recipients,
        **_status_sums(counts),
        "unknown": counts.unknown,
        "states": {s.value: n for s, n in counts.states.items()},
    }


def delivery_json(run: DeliveryRun) -> dict[str, int]:
    """``pledge notify deliver --json`` (and the server's delivery log line)."""
    return {
        "released": run.released,
        "reminders_queued": run.reminders_queued,
        "due": run.due,
        "sent": run.sent,
        "failed": run.failed,
        "retry": run.retry,
        "unknown": run.unknown,
        "left": run.left,
    }


def funnel_json(funnel: DistributionFunnel) -> dict[str, Any]:
    """A distribution's funnel, as the console's campaign notifications page charts it."""
    record, counts = funnel.record, funnel.counts
    return {
        "id": record.id,
        "kind": record.kind,
        "template": record.template,
        "state": record.state.value,
        "created_at": format_instant(record.created_at_us),
        "planned": counts.planned,
        **_status_sums(counts),
        "opened": funnel.opened,
    }


def preview_json(preview: MessagePreview) -> dict[str, Any]:
    """A template worded for one account, as the console's preview shows it."""
    return {
        "campaign": preview.campaign,
        "template": preview.template,
        "account_id": preview.account_id,
        "locale": preview.locale,
        "grant": preview.grant_id,
        "email": {"subject": preview.email.subject, "text": preview.email.text},
        "sms": {"text": preview.sms.text},
    }
