"""Long operations (campaign runs, imports) as jobs: a row in the database, work in a thread.

The row is what clients poll (``GET /v1/jobs/{id}``), so any process serving
the same database answers. Progress is kept in memory and also written to the
row on PostgreSQL (at most once a second). On SQLite it is not: the work holds
SQLite's single write lock for its whole transaction, and a progress write
from another connection would wait for that very lock; a poll served by the
process running the job still sees live progress from memory.

A job's status is the truth (ADR 0016). SQLite has one writer, so every status
write waits for the lock (up to ``busy_wait_s``) rather than failing; a work
that found the database busy before committing anything is run again within
the same bound; and once the work has returned, the job is only ever recorded
as succeeded — never failed because its status could not be written at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from pledge.adapters.sqlalchemy.api_jobs import JobRow
from pledge.adapters.sqlalchemy.database import is_busy
from pledge.entrypoints.web.errors import from_exception
from pledge.entrypoints.web.ports import JobStore
from pledge.usecases.ports import Clock

log = logging.getLogger("pledge.api.jobs")

Work = Callable[[Callable[[int], None]], dict[str, Any]]


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
    def __init__(self, store: JobStore, clock: Clock, *, sqlite: bool, busy_wait_s: float = 600.0) -> None:
        self._store = store
        self._clock = clock
        self._persist_progress = not sqlite
        self._busy_wait_s = busy_wait_s
        self._live: dict[str, int] = {}
        self._totals: dict[str, int] = {}  # what progress counts towards, when known at the start
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def create(self, kind: str, api_key_id: str, request_id: str) -> JobRow:
        """The job's row (queued); :meth:`start` runs it."""
        return self._store.job_create(kind, api_key_id, request_id, self._clock.now_us())

    def start(
        self,
        job: JobRow,
        work: Work,
        *,
        committed: Callable[[], bool] | None = None,
        cleanup: Callable[[], None] | None = None,
        total: int | None = None,
    ) -> JobRow:
        """Run ``work`` in a thread.

        ``committed`` tells whether the work has committed anything yet: until it has, a work that
        found the database busy is run again (within ``busy_wait_s``); without it, never.
        ``cleanup`` runs once the job is over, whatever the outcome. ``total`` is what its progress
        counts up to, if known.
        """
        with self._lock:
            self._live[job.job_id] = 0
            if total is not None:
                self._totals[job.job_id] = total
        thread = threading.Thread(
            target=self._run,
            args=(job, work, committed or (lambda: True), cleanup),
            name=f"pledge-{job.job_id}",
            daemon=True,
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

    def _run(
        self, job: JobRow, work: Work, committed: Callable[[], bool], cleanup: Callable[[], None] | None
    ) -> None:
        try:
            outcome = self._attempt(job, work, committed)
        finally:
            if cleanup is not None:
                cleanup()
        try:
            if outcome[0] == "succeeded":
                done = self.live_progress(job.job_id) or 0
                self._finish(job, status="succeeded", result=outcome[1], progress=done)
            else:
                self._finish(job, status="failed", error=outcome[1])
        finally:
            with self._lock:
                self._live.pop(job.job_id, None)
                self._totals.pop(job.job_id, None)
                self._threads.discard(threading.current_thread())

    def _attempt(self, job: JobRow, work: Work, committed: Callable[[], bool]) -> tuple[str, dict[str, Any]]:
        """("succeeded", result) or ("failed", error): what the job's row must say."""
        last_write = 0.0

        def progress(n: int) -> None:
            nonlocal last_write
            with self._lock:
                self._live[job.job_id] = max(n, self._live.get(job.job_id, 0))
            if self._persist_progress and time.monotonic() - last_write >= 1.0:
                last_write = time.monotonic()
                self._store.job_update(job.job_id, self._clock.now_us(), progress=n)

        deadline = time.monotonic() + self._busy_wait_s
        pause = 0.05
        try:
            self._store.job_update(
                job.job_id, self._clock.now_us(), status="running", wait_s=self._busy_wait_s
            )
            while True:
                try:
                    return "succeeded", work(progress)
                except OperationalError as exc:
                    # Busy before anything committed: nothing happened, so running it again is safe.
                    if not is_busy(exc) or committed() or time.monotonic() >= deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
        except BaseException as exc:
            return "failed", from_exception(exc).body()["error"]

    def _finish(self, job: JobRow, **values: Any) -> None:
        """Write the terminal status, waiting for a busy database; if even that fails, log it.

        The row then stays ``running`` (never ``failed`` after success) until someone looks.
        """
        try:
            self._store.job_update(job.job_id, self._clock.now_us(), wait_s=self._busy_wait_s, **values)
        except Exception:
            log.exception("could not record that %s %s", job.job_id, values.get("status"))

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
