"""The console's grouped reads (``usecases.insights.Insights``): near misses by day, grants over time.

Both return small, bounded results (15-minute buckets) and run on a reader engine,
so a chart never waits for, or blocks, a long run or import.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, literal, literal_column, select, text, union_all

from pledge.adapters.sqlalchemy import expiry
from pledge.adapters.sqlalchemy.rule_sql import PLEDGE_COLUMNS, compile_condition_sql
from pledge.adapters.sqlalchemy.tables import grants
from pledge.domain.timeutil import US_PER_DAY
from pledge.usecases.insights import BUCKET_US
from pledge.usecases.scan_ports import Selection


class SqlInsights:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def near_miss_buckets(self, selection: Selection, max_days: int) -> list[tuple[int, int]]:
        params: dict[str, Any] = {
            "w_start": selection.window.start_us,
            "w_end": selection.window.end_us,
            # One day of slack each side: DST days are not 24 hours; the use case drops what is too far.
            "lo": selection.window.start_us - (max_days + 1) * US_PER_DAY,
            "hi": selection.window.end_us + (max_days + 1) * US_PER_DAY,
        }
        parts = [
            "((p.purchased_at_us >= :lo AND p.purchased_at_us < :w_start)"
            " OR (p.purchased_at_us >= :w_end AND p.purchased_at_us < :hi))"
        ]
        with self._engine.connect() as conn:
            dialect = conn.dialect.name
            for index, condition in enumerate(selection.conditions):
                sql, cond_params = compile_condition_sql(
                    condition.node, dialect, PLEDGE_COLUMNS, prefix=f"c{index}_"
                )
                params.update(cond_params)
                parts.append(f"({sql})")
            sql = (
                f"SELECT p.purchased_at_us / {BUCKET_US} AS b, COUNT(*) "
                "FROM purchases p "
                f"WHERE {' AND '.join(parts)} GROUP BY p.purchased_at_us / {BUCKET_US} ORDER BY 1"
            )
            return [(int(b), int(n)) for b, n in conn.execute(text(sql), params)]

    def grant_buckets(self, campaign_id: str) -> list[tuple[str, int, int, int]]:
        g = grants.c

        def series(name: str, at: Any, *where: Any) -> Any:
            bucket = (at // literal_column(str(BUCKET_US))).label("bucket")  # a constant, inlined
            return (
                select(literal(name).label("series"), bucket, func.count(), func.sum(g.amount_minor))
                .where(g.campaign_id == campaign_id, *where)
                .group_by(bucket)
            )

        mark = expiry.mark_of(campaign_id)  # expired as they read (ADR 36)
        expired_at = func.coalesce(expiry.lapsed_closed_at(mark), g.expires_at_us)
        query = union_all(
            series("issued", g.issued_at_us),
            series("claimed", g.claimed_at_us, g.claimed_at_us.is_not(None)),
            series("expired", expired_at, expiry.lapsed_state(mark) == "expired"),
        )
        with self._engine.connect() as conn:
            return [(str(s), int(b), int(n), int(a or 0)) for s, b, n, a in conn.execute(query)]
