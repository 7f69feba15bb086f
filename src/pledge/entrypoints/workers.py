"""``pledge serve --workers N``: every process builds the same app from its environment.

Uvicorn starts N worker processes and each imports an app factory, so what the command line said
reaches them as one JSON value in ``PLEDGE_SERVE_CONFIG`` (set by the parent, inherited by the
children). What the processes must agree on lives in the database they share: idempotency keys,
jobs, webhook deliveries (leased), notification claims (ADR 26: each process's notification worker
takes its own messages), and, with more than one process, the rate limits (ADR 30).
The console's session cookies are signed with ``PLEDGE_CONSOLE_SECRET``, which the parent sets
when it is unset, so that a session opened on one process is valid on all of them.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from typing import Final

from fastapi import FastAPI

from pledge.bootstrap import App
from pledge.entrypoints.console.session import SECRET_ENV
from pledge.entrypoints.server import create_app
from pledge.entrypoints.web.context import Settings
from pledge.entrypoints.web.key_cache import KEY_CACHE_S
from pledge.entrypoints.web.ratelimit import Rate

CONFIG_ENV: Final = "PLEDGE_SERVE_CONFIG"
FACTORY: Final = "pledge.entrypoints.workers:app_from_environment"
MAX_WORKERS: Final = 64


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """What ``pledge serve`` was told, for a process that did not parse its command line."""

    db: str | None
    now_us: int | None
    webhook_worker: bool
    idempotency_retention_s: float
    rate_per_key: tuple[float, int]  # (per second, burst)
    rate_per_account: tuple[float, int]
    workers: int = 1
    notify_worker: bool = False
    notify_interval_s: float = 30.0
    key_cache_s: float = KEY_CACHE_S

    def settings(self) -> Settings:
        return Settings(
            webhook_worker=self.webhook_worker,
            notify_worker=self.notify_worker,
            notify_interval_s=self.notify_interval_s,
            idempotency_retention_s=self.idempotency_retention_s,
            rate_per_key=Rate(*self.rate_per_key),
            rate_per_account=Rate(*self.rate_per_account),
            shared_limits=self.workers > 1,
            key_cache_s=self.key_cache_s,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        raw = json.loads(text)
        raw["rate_per_key"] = tuple(raw["rate_per_key"])
        raw["rate_per_account"] = tuple(raw["rate_per_account"])
        return cls(**raw)


def export(config: ServeConfig) -> None:
    """Put ``config`` (and a console secret shared by every process) where the workers find it."""
    assert 1 <= config.workers <= MAX_WORKERS, config.workers
    os.environ[CONFIG_ENV] = config.to_json()
    os.environ.setdefault(SECRET_ENV, secrets.token_urlsafe(32))


def app_from_environment() -> FastAPI:
    """The app factory each worker process calls."""
    config = ServeConfig.from_json(os.environ[CONFIG_ENV])
    pledge = App(config.db, config.now_us)
    pledge.require_schema()
    return create_app(pledge, config.settings())
