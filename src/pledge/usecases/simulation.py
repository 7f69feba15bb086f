"""What a dry run finds (``usecases/simulate.py``), as values: amounts in minor units of the
campaign's currency, dates and instants unformatted. ``entrypoints/presenters.simulation_json``
is its JSON (CONTRACT.md, docs/openapi.json's ``Simulation``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pledge.domain.campaign import CampaignState, Stacking


@dataclass(frozen=True, slots=True)
class Problem:
    """What the approver must see; a ``blocking`` one forbids approval, launch and run."""

    code: str
    blocking: bool
    count: int
    message: str
    purchases: tuple[str, ...] = ()  # a sample of the purchases concerned
    campaigns: Mapping[str, int] | None = None  # stacking allowed: purchases each other campaign paid


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A purchase that fails one condition only; ``distance_days`` for the purchase window's."""

    purchase_id: str
    account_id: str
    condition: str
    distance_days: int | None
    purchased_at_us: int


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What a run would decide: the grants and their amount, and the candidates left out, per reason."""

    grants: int
    amount_minor: int
    tiers: Mapping[str, tuple[int, int]]  # tier id -> (grants, amount_minor), in the terms' order
    budget_exhausted: int
    already_granted: int
    per_account: int
    per_serial: int
    earns_nothing: int
    paid_elsewhere: Mapping[str, int]  # qualifying purchases other campaigns of the group paid
    already_paid: int  # of those, left out (stacking excluded)


@dataclass(frozen=True, slots=True)
class TierReach:
    """One tier of tiered terms (ADR 34): its purchase window, its grants and their amount."""

    id: str
    first: date
    last: date
    grants: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Widening:
    """What the window widened by ``days`` at both ends (``first..last``) would add."""

    days: int
    first: date
    last: date
    added_grants: int
    added_amount_minor: int
    budget_exhausted: int


@dataclass(frozen=True, slots=True)
class Simulation:
    """A dry run: reach, cost, rejections per condition, near misses and problems.

    ``version`` and ``state`` are the campaign's, when the dry run is of a stored campaign.
    """

    campaign: str
    currency: str
    timezone: str
    budget_minor: int
    evaluated: int
    qualifying: int
    plan: RunPlan
    tiers: tuple[TierReach, ...]  # empty unless the terms are tiered
    group: str
    stacking: Stacking
    rejections: Mapping[str, int]
    near_misses_by_condition: Mapping[str, int]
    near_misses: tuple[NearMiss, ...]
    problems: tuple[Problem, ...]
    widen: Widening | None = None
    version: int | None = None
    state: CampaignState | None = None

    @property
    def stacking_allowed(self) -> bool:
        return self.stacking is Stacking.ALLOWED

    @property
    def already_paid_by(self) -> Mapping[str, int]:
        """Qualifying purchases left out because another campaign of the group paid them, per campaign."""
        return {} if self.stacking_allowed else self.plan.paid_elsewhere

    @property
    def paid_again_by(self) -> Mapping[str, int]:
        """With stacking allowed: qualifying purchases other campaigns paid that this one pays again."""
        return self.plan.paid_elsewhere if self.stacking_allowed else {}

    @property
    def near_misses_total(self) -> int:
        return sum(self.near_misses_by_condition.values())

    @property
    def blocking(self) -> bool:
        return any(p.blocking for p in self.problems)
