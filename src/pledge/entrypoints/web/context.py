"""What every request handler needs, built once per app: settings, stores, jobs, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from pledge.adapters.sqlalchemy.api_store import ApiStore
from pledge.adapters.sqlalchemy.database import is_sqlite
from pledge.adapters.sqlalchemy.idempotency import DEFAULT_RETENTION_S, IdempotencyStore
from pledge.adapters.sqlalchemy.rate_limits import SharedBuckets
from pledge.adapters.webhooks.delivery import RetryPolicy
from pledge.adapters.webhooks.store import WebhookStore
from pledge.adapters.webhooks.subjects import Subjects
from pledge.bootstrap import App
from pledge.domain.claims import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_FILES
from pledge.entrypoints.web import ports
from pledge.entrypoints.web.jobs import JobRunner
from pledge.entrypoints.web.key_cache import KEY_CACHE_S, CachedKeys
from pledge.entrypoints.web.ratelimit import Rate, RateLimiter, SharedRateLimiter
from pledge.usecases.ports import Clock


@dataclass(frozen=True, slots=True)
class Settings:
    json_body_limit: int = 1 << 20  # 1 MiB: campaign files and small JSON bodies
    upload_limit: int = 512 << 20  # imports: CSV or Parquet bodies
    # A claim: its evidence files (each checked against MAX_EVIDENCE_BYTES) and a few text fields.
    claim_body_limit: int = MAX_EVIDENCE_FILES * (MAX_EVIDENCE_BYTES + (16 << 10)) + (64 << 10)
    # Claims and eligibility checks: per API key, and per customer account (Talon.One
    # allows a customer 3 parallel requests; we allow short bursts, then 429).
    rate_per_key: Rate = field(default_factory=lambda: Rate(per_second=20.0, burst=40))
    rate_per_account: Rate = field(default_factory=lambda: Rate(per_second=2.0, burst=5))
    # Several server processes share their limits through the database (ADR 30); one keeps them in memory.
    shared_limits: bool = False
    # A bearer key found by its secret is remembered this long: a revocation made elsewhere is
    # refused within it (ADR 38). 0 reads the key on every request.
    key_cache_s: float = KEY_CACHE_S
    idempotency_wait_s: float = 5.0  # how long a concurrent retry waits for the first request
    idempotency_lease_s: float = 300.0  # after this a crashed request's key may be taken over
    idempotency_retention_s: float = DEFAULT_RETENTION_S  # after this a key may name a new request
    webhook_worker: bool = True
    webhook_interval_s: float = 2.0
    webhook_policy: RetryPolicy = field(default_factory=RetryPolicy)
    # Notifications delivered on a schedule (ADR 26): on from `pledge serve` (`--no-notify-worker`
    # turns it off), off where the app is built otherwise (tests, a host with its own scheduler).
    notify_worker: bool = False
    notify_interval_s: float = 30.0
    notify_max_per_pass: int = 500  # one pass sends at most this many; the next pass goes on
    job_silence_s: float = 900.0  # a queued/running job untouched this long is marked interrupted
    # SQLite has one writer: how long a job's status (or a work not yet committed) waits for it.
    busy_wait_s: float = 600.0


class ApiContext:
    def __init__(self, app: App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.clock: Clock = app.wall_clock  # keys, sessions, audit, jobs: wall time, never --now
        self.store = ApiStore(app.engine)  # plain reads: accounts, purchases, grants
        self.keys: ports.ApiKeys = CachedKeys(self.store, settings.key_cache_s)  # bearer keys (ADR 38)
        self.job_rows: ports.JobStore = self.store
        self.audit_log: ports.AuditLog = self.store
        self.idempotency: ports.IdempotencyKeys = IdempotencyStore(
            app.engine, int(settings.idempotency_retention_s * 1_000_000)
        )
        self.webhooks = WebhookStore(app.engine)
        self.subjects = Subjects(self.store.reader)  # audit snapshots and single-term reads
        self.snapshots: ports.Snapshots = self.subjects
        self.limiter: RateLimiter = (
            SharedRateLimiter(SharedBuckets(app.engine), self.clock)
            if settings.shared_limits
            else RateLimiter()
        )
        self.jobs = JobRunner(
            self.job_rows, self.clock, sqlite=is_sqlite(app.engine), busy_wait_s=settings.busy_wait_s
        )


def context(request: Request) -> ApiContext:
    ctx = request.app.state.pledge
    assert isinstance(ctx, ApiContext)
    return ctx
