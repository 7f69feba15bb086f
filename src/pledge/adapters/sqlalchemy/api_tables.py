"""Tables of the HTTP API: keys, idempotency, jobs, the audit log and webhooks (migration 0003).

They live on the one ``metadata`` of :mod:`pledge.adapters.sqlalchemy.tables`
so that Alembic and the schema test see the whole database. Instants are
BIGINT epoch microseconds, as everywhere else.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Index, Integer, Table, Text

from pledge.adapters.sqlalchemy.tables import Str, metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Str(40), primary_key=True),  # key_…, safe to show and log
    Column("name", Str(80), nullable=False),
    Column("scope", Str(16), nullable=False),
    Column("account_id", Str(128)),  # customer keys only: the one account they act for
    # SHA-256 of the secret: a stolen database does not yield working keys.
    Column("secret_hash", Str(64), nullable=False, unique=True),
    Column("prefix", Str(16), nullable=False),  # first characters, to recognise a key in a list
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger),
    Column("revoked_at_us", BigInteger),
    CheckConstraint(
        "scope IN ('admin', 'approver', 'operator', 'support', 'finance', 'customer')", name="scope_known"
    ),
    CheckConstraint("(scope = 'customer') = (account_id IS NOT NULL)", name="customer_bound"),
)

# One row per (API key, Idempotency-Key): keys are scoped to the API key that sent them
# (migration 0008). Inserted (status in_progress) in its own transaction before the
# request runs: the primary key makes it the lock.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", Str(40), primary_key=True),
    Column("idem_key", Str(255), primary_key=True),
    Column("fingerprint", Str(64), nullable=False),  # sha256(method, path, body, api key id)
    Column("status", Str(16), nullable=False),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("created_at_us", BigInteger, nullable=False),
    Column("locked_until_us", BigInteger, nullable=False),  # a crashed holder's lease runs out
    CheckConstraint("status IN ('in_progress', 'done')", name="status_known"),
    Index("ix_idempotency_keys_created_at_us", "created_at_us"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Str(40), primary_key=True),
    Column("kind", Str(32), nullable=False),
    Column("status", Str(16), nullable=False),
    Column("api_key_id", Str(40), nullable=False),
    Column("request_id", Str(40), nullable=False),
    Column("progress", BigInteger, nullable=False, server_default="0"),
    Column("result", Text),  # JSON
    Column("error", Text),  # JSON {"type", "code", "message", "param"}
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status_known"),
    Index("ix_jobs_status_updated_at_us", "status", "updated_at_us"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", Str(200), nullable=False),
    Column("api_key_id", Str(40), nullable=False),
    Column("request_id", Str(40), nullable=False),
    Column("action", Str(64), nullable=False),
    Column("subject", Str(200), nullable=False),
    Column("before", Text, nullable=False),  # canonical JSON
    Column("after", Text, nullable=False),
    Column("prev_hash", Str(64), nullable=False),
    Column("hash", Str(64), nullable=False),
    Index("ix_audit_log_subject", "subject"),
)

# One row, like ledger_head: appends lock it, which serializes the chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", Str(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("endpoint_id", Str(40), primary_key=True),  # we_…
    Column("url", Str(2048), nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event types
    # Kept in clear: it signs every delivery (like any HMAC secret); shown to the creator once.
    Column("secret", Str(80), nullable=False),
    Column("description", Str(200), nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

# The transactional outbox: an event is written in the same transaction as the
# change it reports, and one delivery row per subscribed endpoint with it.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("event_id", Str(40), primary_key=True),  # evt_…
    Column("type", Str(48), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),  # the exact JSON body that is signed and sent
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("event_id", Str(40), primary_key=True),
    Column("endpoint_id", Str(40), primary_key=True),
    Column("status", Str(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("last_status", Integer),
    Column("last_error", Str(500)),
    Column("delivered_at_us", BigInteger),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
    Index("ix_webhook_deliveries_status_next_attempt_at_us", "status", "next_attempt_at_us"),
)

# Rate limits shared by every server process (migration 0016, ADR 30): one row per bucket, the
# generic cell rate algorithm's "theoretical arrival time". ``nonce`` tells a request whether its own
# update was the one that took a token.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("name", Str(24), primary_key=True),  # key, account, signin
    Column("bucket", Str(200), primary_key=True),  # the API key id, the account id, …
    Column("tat_us", BigInteger, nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Index("ix_rate_limits_tat_us", "tat_us"),
)
