"""``pledge serve`` delivers notifications by itself: every few seconds, one bounded ``notify deliver``.

A pass is what ``pledge notify deliver --max N`` does: release distributions whose hold ended,
queue the ``grant_expiring`` reminders that fell due, then claim, send and record at most
``max_messages`` messages. Channels and links come from the environment (``PLEDGE_SMTP_URL``,
``PLEDGE_SMS_URL``, ``PLEDGE_PUBLIC_URL``) at each pass, so a pass after a fixed setting uses it.

Several server processes (``serve --workers N``) each run one: ADR 26's claims make that safe —
a message is claimed in its own committed transaction (PostgreSQL ``FOR UPDATE SKIP LOCKED``,
SQLite ``BEGIN IMMEDIATE``) before any channel is called, and reminders are unique per campaign,
offset, account and channel — so two processes never send one message; they share the work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from pledge.bootstrap import App, notification_renderer, notification_senders
from pledge.domain.errors import InputError
from pledge.entrypoints.notify_json import delivery_json
from pledge.usecases.notify_deliver import DeliveryRun, deliver

log = logging.getLogger("pledge.notify")


def deliver_pass(app: App, env: Mapping[str, str] | None, max_messages: int) -> DeliveryRun:
    """One bounded delivery pass on the app's business and wall clocks; the channels closed after."""
    senders = notification_senders(env)
    try:
        return deliver(
            app.uow,
            app.clock,
            app.wall_clock,
            senders,
            notification_renderer(env),
            batch_size=min(100, max_messages),
            max_messages=max_messages,
        )
    finally:
        for sender in senders.values():
            sender.close()


class NotifyThread:
    """Runs a pass every ``interval_s`` in a daemon thread until stopped (as the webhook worker)."""

    def __init__(
        self, app: App, interval_s: float, max_messages: int, env: Mapping[str, str] | None = None
    ) -> None:
        self._app = app
        self._interval_s = interval_s
        self._max = max_messages
        self._env = env
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pledge-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        warned = ""
        while not self._stop.is_set():
            try:
                result = deliver_pass(self._app, self._env, self._max)
                warned = ""
                if result.sent or result.failed or result.unknown or result.reminders_queued:
                    log.info("notifications: %s", delivery_json(result))
            except InputError as exc:  # not configured (PLEDGE_PUBLIC_URL…): said once, not every pass
                if exc.message != warned:
                    log.warning("notifications are not delivered: %s", exc.message)
                    warned = exc.message
            except Exception:  # a bad pass (a lock, a database restart) must not end the worker
                log.exception("notification delivery pass failed")
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
