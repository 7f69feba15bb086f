"""The one place where adapters are built and wired to the use cases."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from sqlalchemy import Engine

from pledge.adapters.cel.engine import compile_rule
from pledge.adapters.clock import FixedClock, SystemClock
from pledge.adapters.evidence.local import LocalEvidenceStore, evidence_dir
from pledge.adapters.evidence.processing import ImageEvidenceProcessor
from pledge.adapters.payouts.config import wallet_config, wechat_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.adapters.payouts.wechat import WechatTransferRail
from pledge.adapters.sqlalchemy.database import default_url, make_engine
from pledge.adapters.sqlalchemy.schema import SCHEMA_HEAD, current_revision
from pledge.adapters.webhooks.uow import HookedUnitOfWork
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.payouts import RAILS, WALLET, WECHAT_TRANSFER
from pledge.usecases.claims import ClaimDesk
from pledge.usecases.payout_ports import PayoutRail
from pledge.usecases.ports import Clock, CompiledRule, UnitOfWork

__all__ = ["App", "FixedClock", "SystemClock", "cached_rule"]


def payout_rail(name: str, env: Mapping[str, str] | None = None) -> PayoutRail:
    """The named rail, configured from the environment (CONTRACT.md, "Rails")."""
    settings = os.environ if env is None else env
    if name == WALLET:
        return WalletRail(wallet_config(settings))
    if name == WECHAT_TRANSFER:
        return WechatTransferRail(wechat_config(settings))
    raise InputError(f"payout rail {name!r} is not one of {', '.join(RAILS)}", param="rail")


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

    def uow(self) -> UnitOfWork:
        # Every entry point writes webhook events for what it changes (grants issued, claimed,
        # expired; renewals; compensation) in the same transaction, if an endpoint listens.
        return HookedUnitOfWork(self.engine, self.clock, None)

    def claim_desk(self) -> ClaimDesk:
        """Claims with their evidence kept under ``PLEDGE_EVIDENCE_DIR`` (ADR 28)."""
        return ClaimDesk(
            self.uow, self.rules, self.clock, ImageEvidenceProcessor(), LocalEvidenceStore(evidence_dir())
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
