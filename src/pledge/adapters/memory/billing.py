"""Scenario B's ports in memory: catalog versions, subscription terms, consents, compensations, outbox.

They mirror :mod:`pledge.adapters.sqlalchemy.billing` row for row: terms are
stored as rows without their consent, and read back with the *latest*
consent (the highest consent id) attached, exactly like the SQL join; the
database's keys, foreign keys and CHECKs are raised as
:class:`~pledge.adapters.memory.tables.IntegrityError` (one compensation per
term, the primary key; a renewal chain that cannot fork, the unique
``previous_term_id``; ...). Orderings are the SQL ones (terms by id, due
terms by end then id, pending messages by due instant then id).

All state lives in one :class:`~pledge.adapters.memory.tables.BillingState` inside the
:class:`~pledge.adapters.memory.store.MemoryStore`; its ``__copy__`` copies
every container, so a unit of work's snapshot covers it and nothing
uncommitted leaks. Rows are immutable values: writes replace them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from pledge.adapters.memory.tables import (
    BillingState,
    BillingTables,
    CatalogRow,
    CompensationRow,
    ConsentRow,
    IntegrityError,
    OutboxRow,
    TermRow,
)
from pledge.domain.catalog import CatalogVersion, parse_catalog
from pledge.domain.compensation import CompensationItem, PlanCompensation
from pledge.domain.subscriptions import AutoRenewConsent, Term, TermKind, TermState

_TERM_STATES = frozenset(s.value for s in TermState)
_TERM_KINDS = frozenset(k.value for k in TermKind)


class _BillingRepository:
    def __init__(self, s: BillingTables) -> None:
        self._s = s

    @property
    def _b(self) -> BillingState:
        return self._s.billing


class MemoryCatalogs(_BillingRepository):
    def latest(self) -> CatalogVersion | None:
        return self._version(max(self._b.catalog_versions, default=None))

    def as_of(self, at_us: int) -> CatalogVersion | None:
        found = [v for v, row in self._b.catalog_versions.items() if row.created_at_us <= at_us]
        return self._version(max(found, default=None))

    def _version(self, number: int | None) -> CatalogVersion | None:
        if number is None:
            return None
        row = self._b.catalog_versions[number]
        catalog = parse_catalog(json.loads(row.document))
        return CatalogVersion(row.version, row.content_hash, catalog, row.author, row.created_at_us)

    def add(self, version: CatalogVersion) -> None:
        if version.version in self._b.catalog_versions:
            raise IntegrityError(f"primary key: catalog version {version.version} exists")
        if any(r.content_hash == version.content_hash for r in self._b.catalog_versions.values()):
            raise IntegrityError(f"unique: catalog content_hash {version.content_hash} exists")
        self._b.catalog_versions[version.version] = CatalogRow(
            version.version,
            version.content_hash,
            json.dumps(version.catalog.canonical(), sort_keys=True, ensure_ascii=False),
            version.catalog.currency,
            version.author,
            version.created_at_us,
        )


def _row(term: Term, catalog_version: int) -> TermRow:
    values = {f.name: getattr(term, f.name) for f in fields(Term) if f.name not in ("id", "consent")}
    values["kind"] = TermKind(term.kind).value
    values["state"] = TermState(term.state).value
    return TermRow(term_id=term.id, catalog_version=catalog_version, **values)


class MemorySubscriptions(_BillingRepository):
    # -- rows <-> terms, like the SQL join with the latest consent -------------
    def _latest_consent(self, term_id: str) -> ConsentRow | None:
        mine = [c for c in self._b.consents if c.term_id == term_id]
        return max(mine, key=lambda c: c.consent_id, default=None)

    def _term(self, row: TermRow) -> Term:
        latest = self._latest_consent(row.term_id)
        consent = (
            None
            if latest is None
            else AutoRenewConsent(latest.auto_renew, latest.actor, latest.at_us, latest.wording)
        )
        return Term(
            id=row.term_id,
            account_id=row.account_id,
            plan_id=row.plan_id,
            price_paid_minor=row.price_paid_minor,
            list_price_minor=row.list_price_minor,
            currency=row.currency,
            timezone=row.timezone,
            starts_at_us=row.starts_at_us,
            ends_at_us=row.ends_at_us,
            anchor_us=row.anchor_us,
            purchased_at_us=row.purchased_at_us,
            kind=TermKind(row.kind),
            state=TermState(row.state),
            terms_version=row.terms_version,
            campaign_id=row.campaign_id,
            auto_renew=row.auto_renew,
            consent=consent,
            previous_term_id=row.previous_term_id,
            compensated_days=row.compensated_days,
            reconciled_to_version=row.reconciled_to_version,
            refunded_minor=row.refunded_minor,
            closed_at_us=row.closed_at_us,
        )

    def _check(self, row: TermRow) -> None:
        """The table's foreign key, CHECKs and unique ``previous_term_id``."""
        if row.account_id not in self._s.accounts:
            raise IntegrityError(f"foreign key: account {row.account_id} does not exist")
        if row.state not in _TERM_STATES:
            raise IntegrityError("check state_known")
        if row.kind not in _TERM_KINDS:
            raise IntegrityError("check kind_known")
        if row.price_paid_minor < 0:
            raise IntegrityError("check price_not_negative")
        if row.ends_at_us <= row.starts_at_us:
            raise IntegrityError("check ends_after_start")
        if not 0 <= row.refunded_minor <= row.price_paid_minor:
            raise IntegrityError("check refund_within_price")
        if row.compensated_days < 0:
            raise IntegrityError("check compensation_never_shortens")
        if row.previous_term_id is not None and any(
            o.previous_term_id == row.previous_term_id and o.term_id != row.term_id
            for o in self._b.terms.values()
        ):
            raise IntegrityError(f"unique: a term renewing {row.previous_term_id} exists")

    def _sorted(self, rows: list[TermRow], limit: int) -> list[Term]:
        rows.sort(key=lambda r: r.term_id)
        return [self._term(r) for r in rows[: max(limit, 0)]]

    # -- the port -------------------------------------------------------------
    def add(self, term: Term, catalog_version: int, now_us: int) -> bool:
        """Store a new term; False if a term with this id exists (a retried purchase)."""
        if term.id in self._b.terms:
            return False
        row = _row(term, catalog_version)
        self._check(row)
        self._b.terms[term.id] = row
        if term.consent is not None:
            self.record_consent(term.id, term.consent, "inherited")
        return True

    def get(self, term_id: str, *, for_update: bool = False) -> Term | None:
        row = self._b.terms.get(term_id)
        return self._term(row) if row else None

    def update(self, term: Term) -> None:
        stored = self._b.terms.get(term.id)
        if stored is None:  # UPDATE ... WHERE term_id = ? touches no row
            return
        row = _row(term, stored.catalog_version)  # every column but the key and the catalog version
        self._check(row)
        self._b.terms[term.id] = row

    def page(self, *, account_id: str | None, starting_after: str | None, limit: int) -> list[Term]:
        rows = [
            r
            for r in self._b.terms.values()
            if (not account_id or r.account_id == account_id)
            and (not starting_after or r.term_id > starting_after)
        ]
        return self._sorted(rows, limit)

    def due(self, now_us: int, limit: int) -> list[Term]:
        rows = [
            r for r in self._b.terms.values() if r.state == TermState.ACTIVE.value and r.ends_at_us <= now_us
        ]
        rows.sort(key=lambda r: (r.ends_at_us, r.term_id))
        return [self._term(r) for r in rows[: max(limit, 0)]]

    def active_ending_before(self, before_us: int, after_term_id: str, limit: int) -> list[Term]:
        rows = [
            r
            for r in self._b.terms.values()
            if r.state == TermState.ACTIVE.value and r.ends_at_us <= before_us and r.term_id > after_term_id
        ]
        return self._sorted(rows, limit)

    def of_campaign(
        self, campaign_id: str, before_version: int, after_term_id: str, limit: int
    ) -> list[Term]:
        """First terms bought under versions older than ``before_version``, in id order (resumable)."""
        rows = [
            r
            for r in self._b.terms.values()
            if r.campaign_id == campaign_id
            and r.terms_version is not None  # NULL < n is not true in SQL
            and r.terms_version < before_version
            and r.kind == TermKind.FIRST.value
            and r.term_id > after_term_id
        ]
        return self._sorted(rows, limit)

    def record_consent(self, term_id: str, consent: AutoRenewConsent, wording_version: str) -> None:
        if term_id not in self._b.terms:
            raise IntegrityError(f"foreign key: subscription term {term_id} does not exist")
        self._b.consent_seq += 1
        self._b.consents.append(
            ConsentRow(
                self._b.consent_seq,
                term_id,
                consent.enabled,
                consent.actor,
                consent.at_us,
                wording_version,
                consent.wording,
            )
        )

    def consent_history(self, term_id: str) -> list[dict[str, Any]]:
        rows = sorted((c for c in self._b.consents if c.term_id == term_id), key=lambda c: c.consent_id)
        return [
            {
                "auto_renew": c.auto_renew,
                "actor": c.actor,
                "at_us": c.at_us,
                "wording_version": c.wording_version,
                "wording": c.wording,
            }
            for c in rows
        ]

    def record_compensation(
        self, item: CompensationItem, approved_by: str, applied_by: str, at_us: int
    ) -> None:
        # The primary key on term_id is the database's own "never twice".
        if item.term_id in self._b.compensations:
            raise IntegrityError(f"primary key: a compensation for term {item.term_id} exists")
        if item.term_id not in self._b.terms:
            raise IntegrityError(f"foreign key: subscription term {item.term_id} does not exist")
        if item.extra_days < 0:
            raise IntegrityError("check extra_days_not_negative")
        if item.new_ends_at_us < item.old_ends_at_us:
            raise IntegrityError("check never_shortens")
        self._b.compensations[item.term_id] = CompensationRow(
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

    def compensation_rows(self, campaign_id: str) -> list[PlanCompensation]:
        joined = [
            (self._b.terms[c.term_id].plan_id, c)
            for c in self._b.compensations.values()
            if c.campaign_id == campaign_id and c.term_id in self._b.terms
        ]
        joined.sort(key=lambda pair: pair[0])
        return [
            PlanCompensation(
                plan_id,
                c.currency,
                c.extra_days,
                self._b.terms[c.term_id].compensated_days,
                c.p_new_minor,
                c.t_new_days,
            )
            for plan_id, c in joined
        ]

    def state_counts(self, campaign_id: str | None) -> dict[str, int]:
        rows = (r for r in self._b.terms.values() if not campaign_id or r.campaign_id == campaign_id)
        return dict(sorted(Counter(r.state for r in rows).items()))


class MemoryOutbox(_BillingRepository):
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
        if message_id in self._b.outbox:
            return False
        self._b.outbox[message_id] = OutboxRow(
            message_id,
            kind,
            account_id,
            term_id,
            due_at_us,
            json.dumps(dict(payload), sort_keys=True, ensure_ascii=False),
            now_us,
        )
        return True

    def pending(self, *, account_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self._b.outbox.values()
            if r.delivered_at_us is None and (not account_id or r.account_id == account_id)
        ]
        rows.sort(key=lambda r: (r.due_at_us, r.message_id))
        return [
            {
                "id": r.message_id,
                "kind": r.kind,
                "account_id": r.account_id,
                "term_id": r.term_id,
                "due_at_us": r.due_at_us,
                "payload": json.loads(r.payload),
            }
            for r in rows[: max(limit, 0)]
        ]

    def cancel(self, message_id: str) -> bool:
        row = self._b.outbox.get(message_id)
        if row is None or row.delivered_at_us is not None:
            return False
        del self._b.outbox[message_id]
        return True
