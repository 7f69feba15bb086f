"""Every POST goes through here: idempotency, audit, and the unit of work that writes events.

Idempotency (Stripe's convention, ADRs 0006 and 0016): a POST may carry
``Idempotency-Key``. Keys are scoped to the API key that sends them: the same
string under two API keys names two independent requests. Before anything
runs, a row for (API key, Idempotency-Key) is inserted in its own transaction
— the primary key makes it a lock across threads and processes. The row stores
the request's fingerprint (method, path, body hash) and, once done, the
response. Then:

- same key, same fingerprint, done: the stored response is replayed
  (``Idempotent-Replayed: true``), nothing runs again; a response carrying a
  secret (a webhook endpoint's signing secret) is stored and replayed without it;
- same key, another fingerprint: 409 ``idempotency_key_reused``, nothing runs;
- same key while the first request still runs: wait up to
  ``idempotency_wait_s`` for it to finish and replay it, else 409
  ``idempotency_request_in_progress``;
- a response is stored for success and for deterministic failures (400, 404,
  business refusals); after a crash, a 5xx, a 429 or a concurrency conflict the
  key is released, so a retry runs afresh;
- after ``idempotency_retention_s`` (24 hours by default) a key is forgotten.
"""

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from pledge.adapters.sqlalchemy.api_jobs import JobRow
from pledge.adapters.sqlalchemy.audit_log import CallAudit
from pledge.adapters.sqlalchemy.idempotency import IdemState
from pledge.adapters.webhooks.uow import HookedFactory, append_unchanged, hooked_factory
from pledge.entrypoints.web.auth import Principal, require
from pledge.entrypoints.web.bodies import refuse_unexpected_body
from pledge.entrypoints.web.context import ApiContext, context
from pledge.entrypoints.web.errors import ApiError, from_exception
from pledge.entrypoints.web.inputs import check_text
from pledge.entrypoints.web.ports import IdempotencyKeys
from pledge.usecases.ports import Clock

UowFactory = HookedFactory


def body_digest(body: bytes) -> str:
    """JSON bodies are hashed in canonical form, so key order and spacing do not matter."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode("utf-8")
    except (ValueError, RecursionError):  # not JSON (or absurdly nested): the bytes themselves
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


def fingerprint(method: str, path: str, digest: str, api_key_id: str) -> str:
    # The API key stays in the hash though keys are now scoped by it: a stored row can never
    # match another key's request, whatever the scoping of older rows.
    return hashlib.sha256(f"{method}\n{path}\n{digest}\n{api_key_id}".encode()).hexdigest()


def finish_audit(ctx: ApiContext, audit: CallAudit, wait_s: float = 0.0) -> None:
    """A call that committed nothing (a repeat, a no-op) is still recorded: who asked, and the state.

    ``wait_s``: how long to wait for SQLite's write lock (jobs wait; requests fail fast with 503).
    """
    append_unchanged(ctx.app.engine, audit, ctx.clock, wait_s)


def _render(body: dict[str, Any]) -> str:
    """Exactly as JSONResponse renders it, so a replay is byte for byte the first response."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _storable(error: ApiError) -> bool:
    """Whether a failure is kept for replay: what the request found (404, a business refusal).

    A malformed request (400) is not kept, as at Stripe: it never began, so it leaves nothing
    behind, and the corrected request may be sent again under the same key.
    """
    return error.status == 404 or (error.status == 409 and error.type == "refused_error")


@dataclass
class Call:
    ctx: ApiContext
    principal: Principal
    request_id: str
    idem_key: str | None
    fingerprint: str

    def audit(self, action: str, subject: str, **extra_after: Any) -> CallAudit:
        """The call's audit entry; its "before" is read in the transaction that writes it."""
        return CallAudit(
            self.principal.actor, self.principal.key_id, self.request_id, action, subject, dict(extra_after)
        )

    def factory(self, audit: CallAudit | None) -> UowFactory:
        return hooked_factory(self.ctx.app.engine, self.ctx.app.clock, audit)

    def run(
        self,
        action: str,
        subject: str,
        fn: Callable[[UowFactory], dict[str, Any]],
        model: type[BaseModel],
        status: int = 200,
    ) -> Response:
        """Run a use case once per idempotency key, audited, and answer with ``model``."""

        def execute() -> tuple[int, dict[str, Any]]:
            audit = self.audit(action, subject)
            result = fn(self.factory(audit))
            finish_audit(self.ctx, audit)
            return status, model.model_validate(result).model_dump(mode="json")

        return self.respond(execute)

    def start_job(
        self,
        kind: str,
        audit: CallAudit,
        run: Callable[[UowFactory, Callable[[int], None]], dict[str, Any]],
        cleanup: Callable[[], None] | None = None,
        total: int | None = None,
    ) -> JobRow:
        """Start ``run`` as an audited job; its audit entry names the job (``total``: see JobRunner).

        The job runs again if the database was busy before it committed anything (the audit
        entry is written with its first commit, so ``audit.written`` says whether it has).
        """
        ctx = self.ctx

        def work(progress: Callable[[int], None]) -> dict[str, Any]:
            result = run(self.factory(audit), progress)
            finish_audit(ctx, audit, ctx.settings.busy_wait_s)
            return result

        job = ctx.jobs.create(kind, self.principal.key_id, self.request_id)
        audit.extra_after["job"] = job.job_id
        return ctx.jobs.start(job, work, committed=lambda: audit.written, cleanup=cleanup, total=total)

    def _claim(self, idem_key: str) -> IdemState:
        settings = self.ctx.settings
        claim = (self.principal.key_id, idem_key, self.fingerprint)
        lease_us = int(settings.idempotency_lease_s * 1_000_000)
        return claim_key(self.ctx.idempotency, self.ctx.clock, claim, lease_us, settings.idempotency_wait_s)

    def respond(
        self,
        execute: Callable[[], tuple[int, dict[str, Any]]],
        stored: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Response:
        """Answer ``execute()`` once per idempotency key; ``stored`` shapes what a replay will answer."""
        headers = {"Request-Id": self.request_id}
        if self.idem_key is None:
            status, body = execute()
            return JSONResponse(body, status_code=status, headers=headers)
        keys, key_id = self.ctx.idempotency, self.principal.key_id
        state = self._claim(self.idem_key)
        if state.outcome == "mismatch":
            raise ApiError(
                409,
                "idempotency_error",
                "idempotency_key_reused",
                f"Idempotency-Key {self.idem_key!r} was used by this API key for a different request "
                "(method, path or body); use a new key for a new request",
                "Idempotency-Key",
            )
        if state.outcome == "in_progress":
            raise ApiError(
                409,
                "idempotency_error",
                "idempotency_request_in_progress",
                f"a request with Idempotency-Key {self.idem_key!r} is still running; retry later",
                "Idempotency-Key",
                headers={"Retry-After": "1"},
            )
        if state.outcome == "replay":
            assert state.status is not None
            assert state.body is not None
            return Response(
                state.body.encode("utf-8"),
                status_code=state.status,
                media_type="application/json",
                headers={**headers, "Idempotent-Replayed": "true"},
            )
        try:
            status, body = execute()
        except Exception as exc:
            error = from_exception(exc)
            if _storable(error):
                keys.finish(key_id, self.idem_key, error.status, _render(error.body()))
            else:
                keys.release(key_id, self.idem_key)
            raise error from exc
        keys.finish(key_id, self.idem_key, status, _render(stored(body) if stored else body))
        return JSONResponse(body, status_code=status, headers=headers)


POLL_S = 0.05  # how often a retry looks whether the first request with its key has finished


def claim_key(
    keys: IdempotencyKeys, clock: Clock, claim: tuple[str, str, str], lease_us: int, wait_s: float
) -> IdemState:
    """Claim (API key, Idempotency-Key, fingerprint), waiting up to ``wait_s`` for a running first request.

    A loop of at most ``wait_s / POLL_S + 1`` claims (each bounded by its own attempts, see
    ``IdempotencyStore.begin``), never longer than ``wait_s``: what is still ``in_progress``
    then is answered 409 ``idempotency_request_in_progress`` with ``Retry-After``.
    """
    api_key_id, idem_key, fingerprint = claim
    deadline = time.monotonic() + wait_s
    state = keys.begin(api_key_id, idem_key, fingerprint, clock.now_us(), lease_us)
    for _ in range(math.ceil(wait_s / POLL_S)):
        if state.outcome != "in_progress" or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
        state = keys.begin(api_key_id, idem_key, fingerprint, clock.now_us(), lease_us)
    return state


async def raw_body(request: Request) -> bytes:
    return await request.body()


IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Any unique string (a UUID): a retry with the same key returns the first response.",
    ),
]


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", "")
    return str(rid)


def mutation(permission: str) -> Callable[..., Call]:
    """A dependency giving a POST handler its authorized, idempotent :class:`Call`.

    An operation that reads no body refuses one (after authentication and scope) rather than
    ignoring it: a client sending ``{"dry_run": true}`` to a run must not get a real run.
    """

    def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(require(permission))],
        body: Annotated[bytes, Depends(raw_body)],
        idempotency_key: IdempotencyHeader = None,
    ) -> Call:
        refuse_unexpected_body(request, body)
        return make_call(request, principal, idempotency_key, body_digest(body))

    return dependency


def make_call(request: Request, principal: Principal, idempotency_key: str | None, digest: str) -> Call:
    if idempotency_key is not None:
        check_text(idempotency_key, "Idempotency-Key", max_length=255)
        if not idempotency_key.strip():
            idempotency_key = None
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Call(
        context(request),
        principal,
        request_id(request),
        idempotency_key,
        fingerprint(request.method, path, digest, principal.key_id),
    )
