"""Jobs: long operations (runs, imports) as rows a client polls; the work itself runs elsewhere."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from pledge.adapters.sqlalchemy.api_tables import jobs
from pledge.adapters.sqlalchemy.engines import reader_engine, write_when_free


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


def _job(row: Any) -> JobRow:
    values = {f.name: row._mapping[f.name] for f in fields(JobRow)}
    for name in ("result", "error"):  # JSON columns
        values[name] = json.loads(values[name]) if values[name] else None
    return JobRow(**values)


class SqlJobs:
    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or reader_engine(engine)

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

        write_when_free(self.engine, write, wait_s)

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
