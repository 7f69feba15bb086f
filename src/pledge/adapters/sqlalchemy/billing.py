"""Catalog versions, subscription terms, consents, compensations and the outbox on SQLAlchemy Core."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pledge.adapters.sqlalchemy.purchases import STREAM
from pledge.adapters.sqlalchemy.tables import (
    catalog_versions,
    compensations,
    consents,
    outbox,
    subscription_terms,
)
from pledge.domain.catalog import CatalogVersion, parse_catalog
from pledge.domain.compensation import CompensationItem, PlanCompensation
from pledge.domain.subscriptions import AutoRenewConsent, Term, TermKind, TermState

t = subscription_terms.c

_TERM_COLUMNS = (
    "term_id",
    "account_id",
    "plan_id",
    "price_paid_minor",
    "list_price_minor",
    "currency",
    "timezone",
    "starts_at_us",
    "ends_at_us",
    "anchor_us",
    "purchased_at_us",
    "kind",
    "state",
    "terms_version",
    "campaign_id",
    "auto_renew",
    "previous_term_id",
    "compensated_days",
    "reconciled_to_version",
    "refunded_minor",
    "closed_at_us",
)


def _latest_consent() -> Any:
    """The newest consent row per term (consent ids only grow)."""
    newest = (
        select(consents.c.term_id, func.max(consents.c.consent_id).label("cid"))
        .group_by(consents.c.term_id)
        .subquery()
    )
    return (
        select(consents)
        .join(newest, and_(newest.c.term_id == consents.c.term_id, newest.c.cid == consents.c.consent_id))
        .subquery()
    )


def _select_terms() -> Any:
    latest = _latest_consent()
    return select(
        *(t[c] for c in _TERM_COLUMNS),
        latest.c.auto_renew.label("c_enabled"),
        latest.c.actor.label("c_actor"),
        latest.c.at_us.label("c_at_us"),
        latest.c.wording.label("c_wording"),
    ).outerjoin(latest, latest.c.term_id == t.term_id)


def _term(row: Any) -> Term:
    consent = (
        None
        if row.c_actor is None
        else AutoRenewConsent(bool(row.c_enabled), row.c_actor, int(row.c_at_us), row.c_wording)
    )
    return Term(
        id=row.term_id,
        account_id=row.account_id,
        plan_id=row.plan_id,
        price_paid_minor=int(row.price_paid_minor),
        list_price_minor=int(row.list_price_minor),
        currency=row.currency,
        timezone=row.timezone,
        starts_at_us=int(row.starts_at_us),
        ends_at_us=int(row.ends_at_us),
        anchor_us=int(row.anchor_us),
        purchased_at_us=int(row.purchased_at_us),
        kind=TermKind(row.kind),
        state=TermState(row.state),
        terms_version=row.terms_version,
        campaign_id=row.campaign_id,
        auto_renew=bool(row.auto_renew),
        consent=consent,
        previous_term_id=row.previous_term_id,
        compensated_days=int(row.compensated_days),
        reconciled_to_version=row.reconciled_to_version,
        refunded_minor=int(row.refunded_minor),
        closed_at_us=row.closed_at_us,
    )


def _values(term: Term) -> dict[str, Any]:
    return {
        "term_id": term.id,
        "account_id": term.account_id,
        "plan_id": term.plan_id,
        "price_paid_minor": term.price_paid_minor,
        "list_price_minor": term.list_price_minor,
        "currency": term.currency,
        "timezone": term.timezone,
        "starts_at_us": term.starts_at_us,
        "ends_at_us": term.ends_at_us,
        "anchor_us": term.anchor_us,
        "purchased_at_us": term.purchased_at_us,
        "kind": term.kind.value,
        "state": term.state.value,
        "terms_version": term.terms_version,
        "campaign_id": term.campaign_id,
        "auto_renew": term.auto_renew,
        "previous_term_id": term.previous_term_id,
        "compensated_days": term.compensated_days,
        "reconciled_to_version": term.reconciled_to_version,
        "refunded_minor": term.refunded_minor,
        "closed_at_us": term.closed_at_us,
    }


class SqlCatalogs:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def latest(self) -> CatalogVersion | None:
        return self._one(select(catalog_versions).order_by(catalog_versions.c.version.desc()).limit(1))

    def as_of(self, at_us: int) -> CatalogVersion | None:
        c = catalog_versions.c
        return self._one(
            select(catalog_versions).where(c.created_at_us <= at_us).order_by(c.version.desc()).limit(1)
        )

    def _one(self, stmt: Any) -> CatalogVersion | None:
        row = self._conn.execute(stmt).first()
        if row is None:
            return None
        catalog = parse_catalog(json.loads(row.document))
        return CatalogVersion(row.version, row.content_hash, catalog, row.author, int(row.created_at_us))

    def add(self, version: CatalogVersion) -> None:
        self._conn.execute(
            catalog_versions.insert().values(
                version=version.version,
                content_hash=version.content_hash,
                document=json.dumps(version.catalog.canonical(), sort_keys=True, ensure_ascii=False),
                currency=version.catalog.currency,
                author=version.author,
                created_at_us=version.created_at_us,
            )
        )


class SqlSubscriptions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, term: Term, catalog_version: int, now_us: int) -> bool:
        """Store a new term; False if a term with this id exists (a retried purchase)."""
        # ON CONFLICT DO NOTHING: two processes retrying one purchase both succeed, one term stored.
        dialect_insert = pg_insert if self._conn.dialect.name == "postgresql" else sqlite_insert
        values = dialect_insert(subscription_terms).values(**_values(term), catalog_version=catalog_version)
        # RETURNING tells reliably whether this statement inserted (rowcount does not, on every driver).
        stmt = values.on_conflict_do_nothing(index_elements=["term_id"]).returning(t.term_id)
        if self._conn.execute(stmt).first() is None:
            return False
        if term.consent is not None:
            self.record_consent(term.id, term.consent, "inherited")
        return True

    def get(self, term_id: str, *, for_update: bool = False) -> Term | None:
        if for_update and self._conn.dialect.name == "postgresql":
            self._conn.execute(select(t.term_id).where(t.term_id == term_id).with_for_update())
        row = self._conn.execute(_select_terms().where(t.term_id == term_id)).first()
        return _term(row) if row else None

    def update(self, term: Term) -> None:
        values = _values(term)
        del values["term_id"]
        self._conn.execute(update(subscription_terms).where(t.term_id == term.id).values(**values))

    def page(self, *, account_id: str | None, starting_after: str | None, limit: int) -> list[Term]:
        stmt = _select_terms().order_by(t.term_id).limit(limit)
        if account_id:
            stmt = stmt.where(t.account_id == account_id)
        if starting_after:
            stmt = stmt.where(t.term_id > starting_after)
        return [_term(r) for r in self._conn.execute(stmt)]

    def due(self, now_us: int, limit: int) -> list[Term]:
        stmt = (
            _select_terms()
            .where(t.state == TermState.ACTIVE.value, t.ends_at_us <= now_us)
            .order_by(t.ends_at_us, t.term_id)
            .limit(limit)
        )
        return [_term(r) for r in self._conn.execute(stmt)]

    def active_ending_before(self, before_us: int, after_term_id: str, limit: int) -> list[Term]:
        stmt = (
            _select_terms()
            .where(t.state == TermState.ACTIVE.value, t.ends_at_us <= before_us, t.term_id > after_term_id)
            .order_by(t.term_id)
            .limit(limit)
        )
        return [_term(r) for r in self._conn.execute(stmt)]

    def of_campaign(
        self, campaign_id: str, before_version: int, after_term_id: str, limit: int
    ) -> list[Term]:
        """First terms bought under versions older than ``before_version``, in id order (resumable)."""
        stmt = (
            _select_terms()
            .where(
                t.campaign_id == campaign_id,
                t.terms_version < before_version,
                t.kind == TermKind.FIRST.value,
                t.term_id > after_term_id,
            )
            .order_by(t.term_id)
            .limit(limit)
        )
        return [_term(r) for r in self._conn.execute(stmt)]

    def record_consent(self, term_id: str, consent: AutoRenewConsent, wording_version: str) -> None:
        self._conn.execute(
            consents.insert().values(
                term_id=term_id,
                auto_renew=consent.enabled,
                actor=consent.actor,
                at_us=consent.at_us,
                wording_version=wording_version,
                wording=consent.wording,
            )
        )

    def consent_history(self, term_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(consents).where(consents.c.term_id == term_id).order_by(consents.c.consent_id)
        )
        return [
            {
                "auto_renew": bool(r.auto_renew),
                "actor": r.actor,
                "at_us": int(r.at_us),
                "wording_version": r.wording_version,
                "wording": r.wording,
            }
            for r in rows
        ]

    def record_compensation(
        self, item: CompensationItem, approved_by: str, applied_by: str, at_us: int
    ) -> None:
        # The primary key on term_id is the database's own "never twice".
        self._conn.execute(
            compensations.insert().values(
                term_id=item.term_id,
                campaign_id=item.campaign_id,
                from_version=item.from_version,
                to_version=item.to_version,
                policy=item.policy.value,
                extra_days=item.extra_days,
                p_old_minor=item.p_old_minor,
                p_new_minor=item.p_new_minor,
                t_old_days=item.t_old_days,
                t_new_days=item.t_new_days,
                currency=item.currency,
                old_ends_at_us=item.old_ends_at_us,
                new_ends_at_us=item.new_ends_at_us,
                approved_by=approved_by,
                applied_by=applied_by,
                applied_at_us=at_us,
            )
        )

    def compensation_rows(self, campaign_id: str) -> list[PlanCompensation]:
        c = compensations.c
        stmt = (
            select(t.plan_id, c.currency, c.extra_days, t.compensated_days, c.p_new_minor, c.t_new_days)
            .select_from(compensations.join(subscription_terms, t.term_id == c.term_id))
            .where(c.campaign_id == campaign_id)
            .order_by(t.plan_id)
        )
        return [
            PlanCompensation(plan_id, currency, int(granted), int(held), int(p_new), int(t_new))
            for plan_id, currency, granted, held, p_new, t_new in self._conn.execute(stmt)
        ]

    def state_counts(self, campaign_id: str | None) -> dict[str, int]:
        stmt = select(t.state, func.count()).group_by(t.state)
        if campaign_id:
            stmt = stmt.where(t.campaign_id == campaign_id)
        return {state: int(n) for state, n in self._conn.execute(stmt)}

    def all_terms(self) -> Iterator[Term]:
        for row in self._conn.execute(_select_terms().order_by(t.term_id), execution_options=STREAM):
            yield _term(row)


class SqlOutbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def enqueue(
        self,
        message_id: str,
        kind: str,
        account_id: str,
        term_id: str | None,
        due_at_us: int,
        payload: Mapping[str, Any],
        now_us: int,
    ) -> bool:
        """Queue a message once; False if it is already queued (re-runs never duplicate)."""
        if self._conn.execute(select(outbox.c.message_id).where(outbox.c.message_id == message_id)).first():
            return False
        self._conn.execute(
            outbox.insert().values(
                message_id=message_id,
                kind=kind,
                account_id=account_id,
                term_id=term_id,
                due_at_us=due_at_us,
                payload=json.dumps(dict(payload), sort_keys=True, ensure_ascii=False),
                created_at_us=now_us,
            )
        )
        return True

    def pending(self, *, account_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = (
            select(outbox)
            .where(outbox.c.delivered_at_us.is_(None))
            .order_by(outbox.c.due_at_us, outbox.c.message_id)  # the port's order: ties by id
            .limit(limit)
        )
        if account_id:
            stmt = stmt.where(outbox.c.account_id == account_id)
        return [
            {
                "id": r.message_id,
                "kind": r.kind,
                "account_id": r.account_id,
                "term_id": r.term_id,
                "due_at_us": int(r.due_at_us),
                "payload": json.loads(r.payload),
            }
            for r in self._conn.execute(stmt)
        ]

    def cancel(self, message_id: str) -> bool:
        result = self._conn.execute(
            delete(outbox).where(outbox.c.message_id == message_id, outbox.c.delivered_at_us.is_(None))
        )
        return result.rowcount == 1
