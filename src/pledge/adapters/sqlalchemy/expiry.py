"""Expiry by mark: the SQL side of ``domain.grant.lapsed`` (ADR 36).

A campaign's ``expired_through_us`` says how far expiry has run for it: a grant stored ``issued``
whose window closed by then reads as ``expired`` (closed when its window closed). ``grants expire``
moves the mark forward and sums, in one statement, what the move expired; no grant row is
rewritten, so 10 M grants cost one index range scan rather than 10 M row versions.

Every reader of a grant's state goes through this module: ``lapsed_state``/``lapsed_closed_at``
for grouped reads, ``GRANT_ROWS`` (every column and the mark) for grants made into objects.

Concurrency (PostgreSQL; SQLite's single writer already serialises): a sweep locks its campaign's
row ``FOR UPDATE`` before summing; whatever changes an unopened grant (a claim, a revoke, a
reinstatement) reads the mark under ``FOR KEY SHARE`` after locking the grant. So a sweep waits
for a claim in flight and sums what it committed, and a claim that comes later sees the new mark:
no grant is both opened and returned to the budget. ``FOR KEY SHARE`` does not wait for a run's
``issue_seq`` update, only for a sweep.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal, select, text
from sqlalchemy.sql.elements import ColumnElement

from pledge.adapters.sqlalchemy.tables import campaigns, grants
from pledge.domain import grant
from pledge.domain.grant import GrantState
from pledge.usecases.ports import CampaignExpiry

_ISSUED, _EXPIRED = GrantState.ISSUED.value, GrantState.EXPIRED.value
MARK = campaigns.c.expired_through_us

# Every grant column and its campaign's mark (0 when the campaign row is missing: a bare table).
GRANT_ROWS: Select[Any] = select(grants, MARK).select_from(
    grants.outerjoin(campaigns, campaigns.c.campaign_id == grants.c.campaign_id)
)


def mark_of(campaign_id: str) -> ColumnElement[Any]:
    """The campaign's mark as a scalar subquery (one campaign's grouped reads); 0 if none."""
    return func.coalesce(select(MARK).where(campaigns.c.campaign_id == campaign_id).scalar_subquery(), 0)


def _lapsed(mark: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(grants.c.state == _ISSUED, grants.c.expires_at_us <= mark)


def lapsed_state(mark: ColumnElement[Any] = MARK) -> ColumnElement[Any]:
    """``grants.state`` as it reads (``lapsed``'s state), for ``GROUP BY`` and filters."""
    return case((_lapsed(mark), literal(_EXPIRED)), else_=grants.c.state)


def lapsed_closed_at(mark: ColumnElement[Any] = MARK) -> ColumnElement[Any]:
    """``grants.closed_at_us`` as it reads (``lapsed``'s closing instant)."""
    return case((_lapsed(mark), grants.c.expires_at_us), else_=grants.c.closed_at_us)


def lock_mark(conn: Connection, campaign_id: str) -> int:
    """The campaign's mark, held until commit against a sweep (PostgreSQL; see the docstring)."""
    stmt = select(MARK).where(campaigns.c.campaign_id == campaign_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True, key_share=True)
    return int(conn.execute(stmt).scalar() or 0)


def check_after_mark(conn: Connection, campaign_id: str, expires_at_us: int) -> None:
    """``domain.grant.check_after_mark`` against the stored mark (before grants are written)."""
    mark = conn.execute(select(MARK).where(campaigns.c.campaign_id == campaign_id)).scalar()
    grant.check_after_mark(campaign_id, expires_at_us, int(mark or 0))


def _due(campaign_id: str, mark: int, now_us: int) -> tuple[str, dict[str, Any]]:
    # ``state = 'issued'`` and the range of ``expires_at_us``: the (state, expires_at_us) index.
    where = (
        f"state = '{_ISSUED}' AND expires_at_us > :mark AND expires_at_us <= :now AND campaign_id = :campaign"
    )
    return where, {"mark": mark, "now": now_us, "campaign": campaign_id}


def sweep(conn: Connection, campaign_id: str, now_us: int) -> tuple[list[CampaignExpiry], str | None]:
    """Move the campaign's mark to ``now_us`` and sum what that expired (in the campaign's currency).

    Also returns a ``(SELECT …)`` naming the expired grants as they now read (for set-based event
    writes), valid until the transaction ends; ``None`` when nothing was due.
    """
    lock = select(MARK, campaigns.c.currency).where(campaigns.c.campaign_id == campaign_id)
    if conn.dialect.name == "postgresql":
        lock = lock.with_for_update()
    found = conn.execute(lock).first()
    if found is None or now_us <= found.expired_through_us:
        return [], None  # no such campaign, or expiry already ran this far: nothing more is due
    where, params = _due(campaign_id, int(found.expired_through_us), now_us)
    # One currency per campaign (its grants are in it): no GROUP BY, which would sort every row.
    count, total, first = conn.execute(
        text(f"SELECT COUNT(*), SUM(amount_minor), MIN(grant_id) FROM grants WHERE {where}"), params
    ).one()
    conn.execute(
        campaigns.update().where(campaigns.c.campaign_id == campaign_id).values(expired_through_us=now_us)
    )
    if not count:
        return [], None
    expired = [CampaignExpiry(campaign_id, found.currency, int(count), int(total), first)]
    return expired, _expired_source(where, params)


def _expired_source(where: str, params: dict[str, Any]) -> str:
    """The swept grants as they now read, with the parameters inlined (a literal subquery)."""
    columns = ", ".join(
        f"'{_EXPIRED}' AS state" if c.name == "state"
        else "expires_at_us AS closed_at_us" if c.name == "closed_at_us"
        else c.name
        for c in grants.c
    )  # fmt: skip
    bound = where.replace(":mark", str(int(params["mark"]))).replace(":now", str(int(params["now"])))
    quoted = "'" + str(params["campaign"]).replace("'", "''") + "'"  # a slug; quoted all the same
    return f"(SELECT {columns} FROM grants WHERE {bound.replace(':campaign', quoted)})"
