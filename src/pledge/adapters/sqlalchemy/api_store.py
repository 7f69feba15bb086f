"""Storage for the HTTP API: keys, idempotency keys, jobs, the audit chain and a few reads.

Every method opens its own short transaction unless it takes a ``Connection``
(then it runs inside the caller's transaction, e.g. the audit row written in
the same commit as the change it records).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.exc import OperationalError

from pledge.adapters.sqlalchemy.api_tables import (
    api_keys,
    audit_head,
    audit_log,
    jobs,
    webhook_endpoints,
)
from pledge.adapters.sqlalchemy.database import busy_timeout_ms, is_busy
from pledge.adapters.sqlalchemy.purchases import STREAM, SqlPurchases
from pledge.adapters.sqlalchemy.repositories import SqlBudgets, SqlCampaigns, SqlGrants
from pledge.adapters.sqlalchemy.tables import purchases
from pledge.domain.audit import AuditRecord, AuditVerifier, ChainedAudit, canonical_json, chain_audit
from pledge.domain.grant import Grant
from pledge.domain.money import format_minor
from pledge.domain.persons import check_person_name, key_actor
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.grants import grant_json

SCOPES = ("admin", "approver", "operator", "support", "finance", "customer")
T = TypeVar("T")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scope: str
    account_id: str | None
    prefix: str
    created_at_us: int
    expires_at_us: int | None
    revoked_at_us: int | None

    def usable(self, now_us: int) -> bool:
        return self.refusal(now_us) is None

    def refusal(self, now_us: int) -> tuple[str, str] | None:
        """(code, message) if the key may not be used now: revoked or expired."""
        if self.revoked_at_us is not None:
            return "api_key_revoked", f"API key {self.key_id} was revoked"
        if self.expires_at_us is not None and now_us >= self.expires_at_us:
            return "api_key_expired", f"API key {self.key_id} has expired"
        return None

    @property
    def actor(self) -> str:
        """Who a key acts as: its person (the name) and which key. Four-eyes compares the persons."""
        return key_actor(self.name, self.key_id)


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    kind: str
    status: str
    api_key_id: str
    request_id: str
    progress: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at_us: int
    updated_at_us: int


@dataclass
class CallAudit:
    """What the audit entry of one API call says; written at the call's first commit."""

    actor: str
    api_key_id: str
    request_id: str
    action: str
    subject: str
    before: dict[str, Any]
    extra_after: dict[str, Any] = field(default_factory=dict)
    written: bool = False

    def record(self, at_us: int, after: dict[str, Any]) -> AuditRecord:
        return AuditRecord(
            at_us,
            self.actor,
            self.api_key_id,
            self.request_id,
            self.action,
            self.subject,
            canonical_json(self.before),
            canonical_json({**after, **self.extra_after}),
        )


def _key(row: Any) -> ApiKey:
    return ApiKey(**{f.name: row._mapping[f.name] for f in fields(ApiKey)})


def _job(row: Any) -> JobRow:
    values = {f.name: row._mapping[f.name] for f in fields(JobRow)}
    for name in ("result", "error"):  # JSON columns
        values[name] = json.loads(values[name]) if values[name] else None
    return JobRow(**values)


def append_audit(conn: Connection, record: AuditRecord) -> ChainedAudit:
    """Chain one entry after the head, holding the head's row lock (serializes appends)."""
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update()).one()
    chained = chain_audit(record, int(head.seq), head.hash)
    conn.execute(
        audit_log.insert().values(
            seq=chained.seq,
            prev_hash=chained.prev_hash,
            hash=chained.hash,
            **record._asdict(),
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=chained.seq, hash=chained.hash))
    return chained


def _audit(row: Any) -> ChainedAudit:
    record = AuditRecord(*(row._mapping[name] for name in AuditRecord._fields))
    return ChainedAudit(int(row.seq), record, row.prev_hash, row.hash)


def campaign_snapshot(conn: Connection, campaign_id: str) -> dict[str, Any] | None:
    """The campaign as audit entries and ``campaign.updated`` events show it."""
    record = SqlCampaigns(conn).get(campaign_id)
    if record is None:
        return None
    versions = SqlCampaigns(conn).versions(campaign_id)
    budget = SqlBudgets(conn).get(campaign_id)
    return {
        "id": campaign_id,
        "object": "campaign",
        "state": record.state.value,
        "currency": record.currency,
        "versions": [
            {"version": v.version, "content_hash": v.content_hash, "author": v.author}
            | {"approved_by": v.approved_by, "approved": v.approved}
            for v in versions
        ],
        "budget_remaining": None if budget is None else format_minor(budget.remaining_minor, budget.currency),
    }


def snapshot(conn: Connection, subject: str) -> dict[str, Any]:
    """State of an audited subject (``kind:id``); {} for subjects without one (bulk operations)."""
    kind, _, ident = subject.partition(":")
    if kind == "campaign":
        return campaign_snapshot(conn, ident) or {}
    if kind == "grant":
        grant = SqlGrants(conn).get(ident)
        return grant_json(grant) if grant else {}
    if kind == "webhook_endpoint":
        w = webhook_endpoints.c
        row = conn.execute(
            select(w.endpoint_id, w.url, w.events, w.enabled).where(w.endpoint_id == ident)
        ).first()
        return {"id": row[0], "url": row[1], "events": json.loads(row[2]), "enabled": row[3]} if row else {}
    return {}


def reader_engine(engine: Engine) -> Engine:
    """An engine for plain reads that never waits for a writer.

    Pledge's SQLite engine begins every transaction with BEGIN IMMEDIATE (see
    database.py), reads included, so while a long import or run holds the
    write lock every read would wait. Authenticating a key or polling a job
    must not: on SQLite this second engine uses deferred transactions, which in
    WAL mode read a consistent snapshot without taking the lock.
    """
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_engine(engine.url)
    busy_ms = busy_timeout_ms(engine)

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return reader


class ApiStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = reader_engine(engine)

    # -- keys -----------------------------------------------------------------

    def create_key(
        self, *, scope: str, name: str, account_id: str | None, expires_at_us: int | None, now_us: int
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; only the secret's hash is stored, so it is shown once.

        ``name`` is the person the key belongs to: every key of one person counts as that person.
        """
        name = check_person_name(name)
        secret = f"pk_live_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            f"key_{secrets.token_hex(12)}", name, scope, account_id, secret[:12], now_us, expires_at_us, None
        )
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    key_id=key.key_id,
                    name=name,
                    scope=scope,
                    account_id=account_id,
                    secret_hash=secret_hash(secret),
                    prefix=key.prefix,
                    created_at_us=now_us,
                    expires_at_us=expires_at_us,
                )
            )
        return key, secret

    def key_by_secret(self, secret: str) -> ApiKey | None:
        with self.reader.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.secret_hash == secret_hash(secret))).first()
        return _key(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        with self.reader.connect() as conn:
            return [_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at_us))]

    def revoke_key(self, key_id: str, now_us: int) -> ApiKey | None:
        with self.engine.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at_us.is_(None))
                .values(revoked_at_us=now_us)
            )
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return _key(row) if row else None

    # -- jobs -------------------------------------------------------------------

    def job_create(self, kind: str, api_key_id: str, request_id: str, now_us: int) -> JobRow:
        job = JobRow(
            f"job_{secrets.token_hex(12)}",
            kind,
            "queued",
            api_key_id,
            request_id,
            0,
            None,
            None,
            now_us,
            now_us,
        )
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    job_id=job.job_id,
                    kind=kind,
                    status=job.status,
                    api_key_id=api_key_id,
                    request_id=request_id,
                    progress=0,
                    created_at_us=now_us,
                    updated_at_us=now_us,
                )
            )
        return job

    def job_update(
        self,
        job_id: str,
        now_us: int,
        *,
        status: str | None = None,
        progress: int | None = None,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        wait_s: float = 0.0,
    ) -> None:
        values: dict[str, Any] = {"updated_at_us": now_us}
        if status is not None:
            values["status"] = status
        if progress is not None:
            values["progress"] = progress
        if result is not None:
            values["result"] = json.dumps(result, ensure_ascii=False)
        if error is not None:
            values["error"] = json.dumps(error, ensure_ascii=False)

        def write(conn: Connection) -> None:
            conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(**values))

        self.write_when_free(write, wait_s)

    def write_when_free(self, write: Callable[[Connection], T], wait_s: float) -> T:
        """Run ``write`` in a transaction, retried while SQLite is busy, for at most ``wait_s``.

        SQLite has one writer: a status or audit row written while an import holds the lock
        waits for it (each attempt up to the connection's busy timeout) instead of failing.
        """
        deadline = time.monotonic() + wait_s
        pause = 0.05
        while True:
            try:
                with self.engine.begin() as conn:
                    return write(conn)
            except OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)

    def job_get(self, job_id: str) -> JobRow | None:
        with self.reader.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        return _job(row) if row else None

    def jobs_interrupted(self, silent_since_us: int, now_us: int) -> int:
        """Fail jobs nobody has touched since ``silent_since_us`` (their process died)."""
        error = {
            "type": "api_error",
            "code": "job_interrupted",
            "message": "the process running this job stopped; submit it again (runs and imports resume "
            "safely)",
            "param": None,
        }
        with self.engine.begin() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.status.in_(("queued", "running")), jobs.c.updated_at_us < silent_since_us)
                .values(status="failed", error=json.dumps(error), updated_at_us=now_us)
            )
        return int(result.rowcount)

    # -- audit ------------------------------------------------------------------

    def audit_append(self, record: AuditRecord, wait_s: float = 0.0) -> ChainedAudit:
        return self.write_when_free(lambda conn: append_audit(conn, record), wait_s)

    def audit_page(self, starting_after: int | None, limit: int, subject: str | None) -> list[ChainedAudit]:
        stmt = select(audit_log).order_by(audit_log.c.seq).limit(limit)
        if starting_after is not None:
            stmt = stmt.where(audit_log.c.seq > starting_after)
        if subject:
            stmt = stmt.where(audit_log.c.subject == subject)
        with self.reader.connect() as conn:
            return [_audit(r) for r in conn.execute(stmt)]

    def verify_audit(self) -> dict[str, Any]:
        """Recompute the chain from the first entry; ``ok`` is False at any edit, insertion or deletion."""
        verifier = AuditVerifier()
        with self.reader.connect() as conn:
            # The head first, then the entries up to it: appends commit entries and head together,
            # so this is consistent even while others append.
            head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one()
            rows = conn.execute(
                select(audit_log).where(audit_log.c.seq <= head.seq).order_by(audit_log.c.seq),
                execution_options=STREAM,
            )
            for row in rows:
                verifier.feed(_audit(row))
        verifier.finish(int(head.seq), head.hash)
        return {
            "ok": not verifier.problems,
            "entries": verifier.entries,
            "head_seq": int(head.seq),
            "head_hash": head.hash,
            "problems": verifier.problems,
        }

    def snapshot(self, subject: str) -> dict[str, Any]:
        with self.reader.connect() as conn:
            return snapshot(conn, subject)

    # -- reads --------------------------------------------------------------------

    def account(self, account_id: str) -> tuple[AccountRecord | None, list[PurchaseRecord]]:
        with self.reader.connect() as conn:
            return SqlPurchases(conn).of_account(account_id)

    def purchase(self, purchase_id: str) -> PurchaseRecord | None:
        p = purchases.c
        with self.reader.connect() as conn:
            row = conn.execute(
                select(
                    p.purchase_id,
                    p.account_id,
                    p.sku,
                    p.serial,
                    p.purchased_at_us,
                    p.price_minor,
                    p.currency,
                    p.status,
                    p.channel,
                ).where(p.purchase_id == purchase_id)
            ).first()
        return PurchaseRecord(*row) if row else None

    def grant(self, grant_id: str) -> Grant | None:
        with self.reader.connect() as conn:
            return SqlGrants(conn).get(grant_id)
