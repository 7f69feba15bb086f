"""Campaigns (with their terms versions and history) and budgets on SQLAlchemy Core."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, select, text, update

from pledge.adapters.sqlalchemy.tables import (
    budgets,
    campaign_events,
    campaigns,
)
from pledge.adapters.sqlalchemy.tables import terms_versions as tv
from pledge.domain.campaign import CampaignState, TermsVersion
from pledge.domain.errors import ConflictError
from pledge.usecases.ports import (
    Budget,
    CampaignRecord,
)

# The campaign and its versions (columns ``v_*``), oldest first; built once, not per request.
_WITH_VERSIONS = (
    select(campaigns, *(c.label(f"v_{c.name}") for c in tv.c))
    .select_from(campaigns.outerjoin(tv, tv.c.campaign_id == campaigns.c.campaign_id))
    .where(campaigns.c.campaign_id == bindparam("campaign_id"))
    .order_by(tv.c.version)
)


class SqlCampaigns:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _record(self, row: Any) -> CampaignRecord:
        return CampaignRecord(
            row.campaign_id,
            row.kind,
            CampaignState(row.state),
            row.currency,
            int(row.created_at_us),
            int(row.issue_seq),
            row.promise_group,
        )

    def get(self, campaign_id: str, *, for_update: bool = False) -> CampaignRecord | None:
        stmt = select(campaigns).where(campaigns.c.campaign_id == campaign_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).first()
        return self._record(row) if row else None

    def all(self) -> list[CampaignRecord]:
        return [
            self._record(r) for r in self._conn.execute(select(campaigns).order_by(campaigns.c.campaign_id))
        ]

    def add(self, record: CampaignRecord) -> None:
        self._conn.execute(
            campaigns.insert().values(
                campaign_id=record.campaign_id,
                kind=record.kind,
                state=record.state.value,
                currency=record.currency,
                created_at_us=record.created_at_us,
                issue_seq=record.issue_seq,
                promise_group=record.promise_group,
            )
        )

    def set_state(self, campaign_id: str, state: CampaignState) -> None:
        self._conn.execute(
            update(campaigns).where(campaigns.c.campaign_id == campaign_id).values(state=state.value)
        )

    def set_group(self, campaign_id: str, group: str) -> None:
        self._conn.execute(
            update(campaigns).where(campaigns.c.campaign_id == campaign_id).values(promise_group=group)
        )

    def lock_group(self, group: str) -> None:
        if self._conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE serializes every writer
            self._conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"pledge.promise_group:{group}"},
            )

    def bump_issue_seq(self, campaign_id: str, expected: int) -> bool:
        result = self._conn.execute(
            update(campaigns)
            .where(campaigns.c.campaign_id == campaign_id, campaigns.c.issue_seq == expected)
            .values(issue_seq=expected + 1)
        )
        return result.rowcount == 1

    def versions(self, campaign_id: str) -> list[TermsVersion]:
        rows = self._conn.execute(select(tv).where(tv.c.campaign_id == campaign_id).order_by(tv.c.version))
        return [_version(r._mapping, "") for r in rows]

    def with_versions(self, campaign_id: str) -> tuple[CampaignRecord | None, list[TermsVersion]]:
        rows = self._conn.execute(_WITH_VERSIONS, {"campaign_id": campaign_id}).all()
        if not rows:
            return None, []
        versions = [_version(r._mapping, "v_") for r in rows if r.v_campaign_id is not None]
        return self._record(rows[0]), versions

    def add_version(self, version: TermsVersion) -> None:
        self._conn.execute(
            tv.insert().values(
                campaign_id=version.campaign_id,
                version=version.version,
                content_hash=version.content_hash,
                document=json.dumps(version.document, sort_keys=True, ensure_ascii=False),
                author=version.author,
                created_at_us=version.created_at_us,
            )
        )

    def approve(self, campaign_id: str, version: int, approver: str, at_us: int, content_hash: str) -> None:
        result = self._conn.execute(
            update(tv)
            .where(
                tv.c.campaign_id == campaign_id,
                tv.c.version == version,
                tv.c.content_hash == content_hash,
                tv.c.approved_by.is_(None),
            )
            .values(approved_by=approver, approved_at_us=at_us, approved_hash=content_hash)
        )
        if result.rowcount != 1:
            raise ConflictError(f"campaign {campaign_id} version {version} changed or was approved meanwhile")

    def record_event(
        self, campaign_id: str, kind: str, actor: str, at_us: int, detail: Mapping[str, Any]
    ) -> None:
        self._conn.execute(
            campaign_events.insert().values(
                campaign_id=campaign_id,
                kind=kind,
                actor=actor,
                at_us=at_us,
                detail=json.dumps(detail, sort_keys=True, ensure_ascii=False),
            )
        )

    def events(self, campaign_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(campaign_events)
            .where(campaign_events.c.campaign_id == campaign_id)
            .order_by(campaign_events.c.event_id)
        )
        return [
            {"kind": r.kind, "actor": r.actor, "at_us": int(r.at_us), "detail": json.loads(r.detail)}
            for r in rows
        ]


class SqlBudgets:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, campaign_id: str) -> Budget | None:
        row = self._conn.execute(select(budgets).where(budgets.c.campaign_id == campaign_id)).first()
        return (
            Budget(row.campaign_id, row.currency, int(row.funded_minor), int(row.remaining_minor))
            if row
            else None
        )

    def create(self, budget: Budget) -> None:
        self._conn.execute(
            budgets.insert().values(
                campaign_id=budget.campaign_id,
                currency=budget.currency,
                funded_minor=budget.funded_minor,
                remaining_minor=budget.remaining_minor,
            )
        )

    def adjust(self, campaign_id: str, delta_remaining_minor: int, delta_funded_minor: int = 0) -> bool:
        # The WHERE makes the check and the change one atomic statement; the CHECK
        # constraint would also refuse, but as an error instead of a clean "no".
        result = self._conn.execute(
            update(budgets)
            .where(
                budgets.c.campaign_id == campaign_id,
                budgets.c.remaining_minor + delta_remaining_minor >= 0,
                budgets.c.remaining_minor + delta_remaining_minor
                <= budgets.c.funded_minor + delta_funded_minor,
            )
            .values(
                remaining_minor=budgets.c.remaining_minor + delta_remaining_minor,
                funded_minor=budgets.c.funded_minor + delta_funded_minor,
            )
        )
        return result.rowcount == 1


def _version(row: RowMapping, prefix: str) -> TermsVersion:
    """A terms version from a row whose ``terms_versions`` columns are named ``prefix`` + column."""
    return TermsVersion(
        row[f"{prefix}campaign_id"],
        row[f"{prefix}version"],
        row[f"{prefix}content_hash"],
        json.loads(row[f"{prefix}document"]),
        row[f"{prefix}author"],
        int(row[f"{prefix}created_at_us"]),
        row[f"{prefix}approved_by"],
        row[f"{prefix}approved_at_us"],
        row[f"{prefix}approved_hash"],
    )
