"""Four-eyes on re-opening an expired envelope (ADR 26): above ``payout.reinstate_review_above``
two different persons re-open it, the first recording a pending approval.

The same rule as a claim's decision and a campaign's approval (ADR 16, ADR 28): persons are
compared, never keys, so a second key made under the first person's name is still that person.
A pending approval belongs to one expiry of the grant (its ``expires_at_us``): once the grant is
re-opened and expires again, re-opening it needs approvals afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pledge.domain.errors import RefusedError
from pledge.domain.grant import Grant
from pledge.domain.persons import same_person

REQUESTED: Final = "grant.reinstate_requested"  # the campaign event of a first approval


def needs_review(grant: Grant, review_above_minor: int | None) -> bool:
    return review_above_minor is not None and grant.amount_minor > review_above_minor


def pending_approvers(grant: Grant, events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Who already approved re-opening this expiry of ``grant`` (campaign events, oldest first)."""
    return [
        str(e["actor"])
        for e in events
        if e["kind"] == REQUESTED
        and e["detail"].get("grant") == grant.id
        and e["detail"].get("expired_at_us") == grant.expires_at_us
    ]


def check_reinstater(
    grant: Grant, actor: str, approvers: Iterable[str], review_above_minor: int | None
) -> bool:
    """Refuse a re-opening this actor may not do; True when it completes (the grant re-opens).

    Nobody re-opens their own account's envelope; above the amount the first person's act is a
    pending approval and the same person again (with any key) is refused.
    """
    if same_person(actor, grant.account_id):
        raise RefusedError(
            f"grant {grant.id} is {actor}'s own envelope; someone else re-opens it", code="self_decision"
        )
    if not needs_review(grant, review_above_minor):
        return True
    earlier = list(approvers)
    if any(same_person(actor, who) for who in earlier):
        raise RefusedError(
            f"grant {grant.id}: {actor} already approved re-opening it; a second, different person must",
            code="four_eyes",
        )
    return len(earlier) >= 1
