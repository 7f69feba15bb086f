"""What the web shell needs from storage, one narrow port per concern (ADR 0021).

The SQL adapters (``pledge.adapters.sqlalchemy.api_keys``, ``.idempotency``, ``.api_jobs``,
``.audit_log``, ``.snapshots``) satisfy these; the shell names nothing else of theirs but the
rows they return.
"""

from __future__ import annotations

from typing import Any, Protocol

from pledge.adapters.sqlalchemy.api_jobs import JobRow
from pledge.adapters.sqlalchemy.api_keys import ApiKey
from pledge.adapters.sqlalchemy.idempotency import IdemState
from pledge.domain.audit import AuditRecord, ChainedAudit


class ApiKeys(Protocol):
    def key_by_secret(self, secret: str) -> ApiKey | None: ...


class IdempotencyKeys(Protocol):
    def begin(
        self, api_key_id: str, idem_key: str, fingerprint: str, now_us: int, lease_us: int
    ) -> IdemState: ...

    def finish(self, api_key_id: str, idem_key: str, status: int, body: str) -> None: ...

    def release(self, api_key_id: str, idem_key: str) -> None: ...


class JobStore(Protocol):
    def job_create(self, kind: str, api_key_id: str, request_id: str, now_us: int) -> JobRow: ...

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
    ) -> None: ...

    def job_get(self, job_id: str) -> JobRow | None: ...

    def jobs_interrupted(self, silent_since_us: int, now_us: int) -> int: ...


class AuditLog(Protocol):
    def audit_append(self, record: AuditRecord, wait_s: float = 0.0) -> ChainedAudit: ...

    def audit_page(
        self, starting_after: int | None, limit: int, subject: str | None
    ) -> list[ChainedAudit]: ...

    def verify_audit(self) -> dict[str, Any]: ...


class Snapshots(Protocol):
    def snapshot(self, subject: str) -> dict[str, Any]: ...
