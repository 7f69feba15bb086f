"""Long operations (campaign runs, imports) as jobs: a row in the database, work in a thread.

The row is what clients poll (``GET /v1/jobs/{id}``), so any process serving
the same database answers. Progress is kept in memory and also written to the
row on PostgreSQL (at most once a second). On SQLite it is not: the work holds
SQLite's single write lock for its whole transaction, and a progress write
from another connection would wait for that very lock; a poll served by the
process running the job still sees live progress from memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pledge.adapters.sqlalchemy.api_store import ApiStore, JobRow
from pledge.entrypoints.api.errors import from_exception

log = logging.getLogger("pledge.api.jobs")

Work = Callable[[Callable[[int], None]], dict[str, Any]]


def _now_us() -> int:
    return time.time_ns() // 1_000


def job_json(job: JobRow, live_progress: int | None = None) -> dict[str, Any]:
    return {
        "object": "job",
        "id": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress if live_progress is None else max(live_progress, job.progress),
        "result": job.result,
        "error": job.error,
        "created": job.created_at_us // 1_000_000,
        "updated": job.updated_at_us // 1_000_000,
    }


class JobRunner:
    def __init__(self, store: ApiStore, *, sqlite: bool) -> None:
        self._store = store
        self._persist_progress = not sqlite
        self._live: dict[str, int] = {}
        self._totals: dict[str, int] = {}  # what progress counts towards, when known at the start
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def create(self, kind: str, api_key_id: str, request_id: str) -> JobRow:
        """The job's row (queued); :meth:`start` runs it."""
        return self._store.job_create(kind, api_key_id, request_id, _now_us())

    def start(self, job: JobRow, work: Work, total: int | None = None) -> JobRow:
        """Run ``work`` in a thread; ``total`` is what its progress counts up to, if known."""
        with self._lock:
            self._live[job.job_id] = 0
            if total is not None:
                self._totals[job.job_id] = total
        thread = threading.Thread(
            target=self._run, args=(job, work), name=f"pledge-{job.job_id}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return job

    def live_progress(self, job_id: str) -> int | None:
        with self._lock:
            return self._live.get(job_id)

    def total(self, job_id: str) -> int | None:
        """What a running job's progress counts up to, if this process started it and knew it."""
        with self._lock:
            return self._totals.get(job_id)

    def _run(self, job: JobRow, work: Work) -> None:
        last_write = 0.0

        def progress(n: int) -> None:
            nonlocal last_write
            with self._lock:
                self._live[job.job_id] = n
            if self._persist_progress and time.monotonic() - last_write >= 1.0:
                last_write = time.monotonic()
                self._store.job_update(job.job_id, _now_us(), progress=n)

        try:
            self._store.job_update(job.job_id, _now_us(), status="running")
            result = work(progress)
            done = self.live_progress(job.job_id) or 0
            self._store.job_update(job.job_id, _now_us(), status="succeeded", result=result, progress=done)
        except BaseException as exc:
            error = from_exception(exc)
            try:
                self._store.job_update(job.job_id, _now_us(), status="failed", error=error.body()["error"])
            except Exception:
                log.exception("could not record the failure of %s", job.job_id)
        finally:
            with self._lock:
                self._live.pop(job.job_id, None)
                self._totals.pop(job.job_id, None)
                self._threads.discard(threading.current_thread())

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Wait for running jobs (tests, shutdown); False if some are still running."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._threads
