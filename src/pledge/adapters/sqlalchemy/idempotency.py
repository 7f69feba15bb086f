"""Idempotency keys, scoped to the API key that sent them and kept for a stated retention.

A row per (API key, Idempotency-Key): the same string sent by two API keys
names two independent requests, as Stripe scopes keys to an account. The row
is inserted (``in_progress``) in its own transaction before the request runs,
so the primary key is a lock across threads and processes; it then stores the
response. After ``retention_us`` a key is forgotten and may name a new request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from pledge.adapters.sqlalchemy.api_tables import idempotency_keys

DEFAULT_RETENTION_S = 24 * 3600  # like Stripe: a key may name a new request after 24 hours
PURGE_EVERY_S = 60.0
MAX_ATTEMPTS = 4  # insert, read, take over: a row can only vanish or expire a bounded number of times

IdemOutcome = Literal["new", "replay", "mismatch", "in_progress"]


@dataclass(frozen=True, slots=True)
class IdemState:
    outcome: IdemOutcome
    status: int | None = None
    body: str | None = None


class IdempotencyStore:
    def __init__(self, engine: Engine, retention_us: int = DEFAULT_RETENTION_S * 1_000_000) -> None:
        self.engine = engine
        self.retention_us = retention_us
        self._purged_at = 0.0

    def begin(
        self, api_key_id: str, idem_key: str, fingerprint: str, now_us: int, lease_us: int
    ) -> IdemState:
        """Claim the key for this request, or say why not: a loop of at most ``MAX_ATTEMPTS`` steps.

        Each attempt inserts the row (new) or reads the existing one: done → replay, another
        fingerprint → mismatch, expired or a crashed holder's lease run out → take it over. A row
        that vanished between the insert and the read (a failed attempt released it) is tried again;
        a take-over lost to another request reports ``in_progress``, which the caller waits on.
        """
        self._purge_expired(now_us)
        for _ in range(MAX_ATTEMPTS):
            if self._insert(api_key_id, idem_key, fingerprint, now_us, lease_us):
                return IdemState("new")
            state = self._existing(api_key_id, idem_key, fingerprint, now_us, lease_us)
            if state is not None:
                return state
        return IdemState("in_progress")

    def _insert(self, api_key_id: str, idem_key: str, fingerprint: str, now_us: int, lease_us: int) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    idempotency_keys.insert().values(
                        api_key_id=api_key_id,
                        idem_key=idem_key,
                        fingerprint=fingerprint,
                        status="in_progress",
                        created_at_us=now_us,
                        locked_until_us=now_us + lease_us,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _existing(
        self, api_key_id: str, idem_key: str, fingerprint: str, now_us: int, lease_us: int
    ) -> IdemState | None:
        """The outcome for an existing row; None if it vanished (try the insert again)."""
        k = idempotency_keys.c
        mine = (k.api_key_id == api_key_id) & (k.idem_key == idem_key)
        with self.engine.begin() as conn:
            row = conn.execute(select(idempotency_keys).where(mine)).first()
            if row is None:
                return None
            expired = row.created_at_us + self.retention_us <= now_us
            stale = row.status == "in_progress" and row.locked_until_us <= now_us
            if expired or (stale and row.fingerprint == fingerprint):
                # Take the key over; the WHERE on the old values makes the take-over race-free.
                taken = conn.execute(
                    update(idempotency_keys)
                    .where(mine, k.created_at_us == row.created_at_us, k.status == row.status)
                    .where(k.locked_until_us == row.locked_until_us)
                    .values(
                        fingerprint=fingerprint,
                        status="in_progress",
                        response_status=None,
                        response_body=None,
                        created_at_us=now_us,
                        locked_until_us=now_us + lease_us,
                    )
                )
                return IdemState("new" if taken.rowcount == 1 else "in_progress")
            if row.fingerprint != fingerprint:
                return IdemState("mismatch")
            if row.status == "done":
                return IdemState("replay", int(row.response_status), row.response_body)
            return IdemState("in_progress")

    def finish(self, api_key_id: str, idem_key: str, status: int, body: str) -> None:
        k = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(
                update(idempotency_keys)
                .where(k.api_key_id == api_key_id, k.idem_key == idem_key)
                .values(status="done", response_status=status, response_body=body)
            )

    def release(self, api_key_id: str, idem_key: str) -> None:
        """Forget a key whose request failed unexpectedly, so that a retry runs again."""
        k = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(
                delete(idempotency_keys).where(
                    k.api_key_id == api_key_id, k.idem_key == idem_key, k.status == "in_progress"
                )
            )

    def _purge_expired(self, now_us: int) -> None:
        """Delete keys past their retention (at most once a minute per process): they replay nothing."""
        if time.monotonic() - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = time.monotonic()
        k = idempotency_keys.c
        with self.engine.begin() as conn:
            conn.execute(
                delete(idempotency_keys).where(
                    k.created_at_us <= now_us - self.retention_us,
                    (k.status == "done") | (k.locked_until_us <= now_us),
                )
            )
