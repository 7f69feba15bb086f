"""The one place where adapters are built and wired to the use cases."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine

from pledge.adapters.cel.engine import compile_rule
from pledge.adapters.clock import FixedClock, SystemClock
from pledge.adapters.evidence.local import LocalEvidenceStore, evidence_dir
from pledge.adapters.evidence.processing import ImageEvidenceProcessor
from pledge.adapters.notifications import config as notify_config
from pledge.adapters.notifications.channels import channels_from_env
from pledge.adapters.notifications.render import Renderer
from pledge.adapters.payouts.config import rail_rates, wallet_config, wechat_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.adapters.payouts.wechat import WechatTransferRail
from pledge.adapters.sqlalchemy.database import default_url, make_engine
from pledge.adapters.sqlalchemy.rate_limits import SharedBuckets, SharedPace
from pledge.adapters.sqlalchemy.schema import SCHEMA_HEAD, current_revision
from pledge.adapters.webhooks.uow import HookedUnitOfWork
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.notifications import Channel
from pledge.domain.payouts import RAILS, WALLET, WECHAT_TRANSFER
from pledge.domain.rates import Rate
from pledge.usecases.claims import ClaimDesk
from pledge.usecases.notification_ports import NotificationChannel
from pledge.usecases.payout_ports import PayoutRail, RequestPace
from pledge.usecases.payout_reconcile import StatementLine
from pledge.usecases.ports import Clock, CompiledRule, UnitOfWork, UnitOfWorkFactory

__all__ = ["App", "FixedClock", "SystemClock", "cached_rule"]


def payout_rail(name: str, env: Mapping[str, str] | None = None) -> PayoutRail:
    """The named rail, configured from the environment (CONTRACT.md, "Rails")."""
    settings = os.environ if env is None else env
    if name == WALLET:
        return WalletRail(wallet_config(settings))
    if name == WECHAT_TRANSFER:
        return WechatTransferRail(wechat_config(settings))
    raise InputError(f"payout rail {name!r} is not one of {', '.join(RAILS)}", param="rail")


def payout_pace(engine: Engine, rate: Rate | None, env: Mapping[str, str] | None = None) -> RequestPace:
    """One request rate per rail for every dispatcher on the database (ADR 32): ``rate`` for every
    rail when given, else each rail's configured rate (``PLEDGE_WALLET_RATE``, ``PLEDGE_WECHAT_RATE``)."""
    rates = dict.fromkeys(RAILS, rate) if rate is not None else rail_rates(os.environ if env is None else env)
    return SharedPace(SharedBuckets(engine), {rail: (r.per_second, r.burst) for rail, r in rates.items()})


_CHANNEL_SETTINGS = ((Channel.EMAIL, notify_config.SMTP_URL_ENV), (Channel.SMS, notify_config.SMS_URL_ENV))


def notification_senders(env: Mapping[str, str] | None = None) -> dict[Channel, NotificationChannel]:
    """One sending channel per one configured in the environment (``PLEDGE_SMTP_URL``,
    ``PLEDGE_SMS_URL``); a malformed setting is bad input naming the variable."""
    settings = os.environ if env is None else env
    wanted = [channel for channel, name in _CHANNEL_SETTINGS if settings.get(name, "").strip()]
    try:
        return channels_from_env(settings, wanted)
    except notify_config.ConfigError as exc:
        raise InputError(str(exc), param="environment") from None


def notification_renderer(env: Mapping[str, str] | None = None) -> Renderer:
    """The templates, with links under ``PLEDGE_PUBLIC_URL``."""
    try:
        return Renderer(notify_config.public_url(os.environ if env is None else env))
    except notify_config.ConfigError as exc:
        raise InputError(str(exc), param=notify_config.PUBLIC_URL_ENV) from None


@lru_cache(maxsize=64)
def cached_rule(text: str) -> CompiledRule:
    return compile_rule(text)


class App:
    """Everything a command needs, wired once."""

    def __init__(
        self, url: str | None = None, now_us: int | None = None, wall_clock: Clock | None = None
    ) -> None:
        self.url = url or default_url()
        self.engine: Engine = make_engine(self.url)
        # Business time: ``--now`` fixes it for a command (grants issued, claimed, expired "then").
        self.clock: SystemClock | FixedClock = FixedClock(now_us) if now_us is not None else SystemClock()
        # Time as it passes whatever ``--now`` says: API keys' expiry, sessions, audit entries, jobs,
        # idempotency leases (ADR 0021).
        self.wall_clock: Clock = wall_clock or SystemClock()
        self.rules = cached_rule

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        # Every entry point writes webhook events for what it changes (grants issued, claimed,
        # expired; renewals; compensation) in the same transaction, if an endpoint listens.
        return HookedUnitOfWork(self.engine, self.clock, None, read_only=read_only)

    def claim_desk(self, uow: UnitOfWorkFactory | None = None) -> ClaimDesk:
        """Claims with their evidence kept under ``PLEDGE_EVIDENCE_DIR`` (ADR 28); ``uow``: an audited
        command's unit-of-work factory instead of the plain one."""
        return ClaimDesk(
            uow or self.uow,
            self.rules,
            self.clock,
            ImageEvidenceProcessor(),
            LocalEvidenceStore(evidence_dir()),
        )

    def require_schema(self) -> None:
        current = current_revision(self.engine)
        if current != SCHEMA_HEAD:
            raise RefusedError(
                f"the database at {self.engine.url.render_as_string(hide_password=True)} is at schema "
                f"{current or 'none'}; run `pledge init` first",
                code="schema_outdated",
            )

    def close(self) -> None:
        self.engine.dispose()


def statement_lines(path: Path) -> Iterator[StatementLine]:
    """A payout provider's daily statement (CONTRACT.md), read and checked line by line."""
    from pledge.adapters.files.statements import read_statement  # noqa: PLC0415 - only reconciliation reads one

    return read_statement(path)
