"""Deliver outbox events to webhook endpoints: signed, at least once, with exponential backoff.

A worker (``pledge webhooks deliver`` or the thread in ``pledge serve``) takes
due deliveries, *leases* each one (a conditional UPDATE moves its next attempt
into the future, so two workers never send the same attempt at once), POSTs
it, and records the outcome. A 2xx is delivered; anything else, or a network
error, schedules the next attempt ``base * 2**(attempts-1)`` seconds later
(capped) until ``max_attempts``, after which the delivery is ``failed``. A
worker that dies mid-attempt leaves the lease to run out: the attempt is
retried, which is why receivers dedupe by event id.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import httpx

from pledge.adapters.clock import SystemClock
from pledge.adapters.webhooks.store import Delivery, WebhookStore
from pledge.usecases.ports import Clock
from pledge.webhooks import SIGNATURE_HEADER, sign

log = logging.getLogger("pledge.webhooks")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 30.0
    max_backoff_s: float = 3600.0
    max_attempts: int = 8
    timeout_s: float = 10.0
    lease_s: float = 60.0

    def backoff_us(self, attempts: int) -> int:
        """Delay after the ``attempts``-th failed attempt."""
        return int(min(self.max_backoff_s, self.base_s * 2 ** max(attempts - 1, 0)) * 1_000_000)


class Deliverer:
    def __init__(
        self,
        store: WebhookStore,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self._clock: Clock = clock or SystemClock()  # wall-clock: when attempts really happen
        self.policy = policy or RetryPolicy()
        # Redirects are not followed: an endpoint is exactly the URL registered.
        self._client = client or httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def deliver_due(self, limit: int = 100) -> dict[str, int]:
        """One pass over due deliveries; returns counts of delivered, retried and failed."""
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        now = self._clock.now_us()
        for delivery in self.store.due(now, limit):
            if not self.store.lease(delivery, now + int(self.policy.lease_s * 1_000_000)):
                continue
            counts[self._attempt(delivery)] += 1
        return counts

    def _attempt(self, delivery: Delivery) -> str:
        body = delivery.payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Pledge-Webhooks/1",
            SIGNATURE_HEADER: sign(body, delivery.secret),
        }
        http_status: int | None = None
        error: str | None = None
        try:
            response = self._client.post(delivery.url, content=body, headers=headers)
            http_status = response.status_code
            if 200 <= http_status < 300:
                now = self._clock.now_us()
                self.store.record_attempt(
                    delivery,
                    status="delivered",
                    http_status=http_status,
                    error=None,
                    next_attempt_at_us=now,
                    delivered_at_us=now,
                )
                return "delivered"
            error = f"HTTP {http_status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempts = delivery.attempts + 1
        gave_up = attempts >= self.policy.max_attempts
        log.info("webhook %s to %s failed (%s), attempt %d", delivery.event_id, delivery.url, error, attempts)
        self.store.record_attempt(
            delivery,
            status="failed" if gave_up else "pending",
            http_status=http_status,
            error=error,
            next_attempt_at_us=self._clock.now_us() + self.policy.backoff_us(attempts),
            delivered_at_us=None,
        )
        return "failed" if gave_up else "retrying"


class DeliveryThread:
    """Runs passes every ``interval_s`` in a daemon thread until stopped (used by ``pledge serve``)."""

    def __init__(self, deliverer: Deliverer, interval_s: float = 2.0) -> None:
        self._deliverer = deliverer
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pledge-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._deliverer.deliver_due()
            except Exception:  # a bad pass must not kill the worker; the next one retries
                log.exception("webhook delivery pass failed")
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._deliverer.close()
