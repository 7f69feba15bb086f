"""Why a qualifying purchase has no grant: the reason issuance would give, from what is stored.

A purchase whose amount is zero (a free item) earns nothing whatever else holds. Otherwise the
checks follow the order issuance applies them (ADR 5, ADR 15): a purchase another campaign of
the promise group paid is not a candidate at all; then the limit per account, the limit per
serial, and the budget, in issuance order (purchase instant, then purchase id). Which purchase
took a limit is read from the campaign's grants; where the budget ran out, from the last run.
A purchase none of these refuses was not there when the campaign last ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pledge.domain.campaign import CashbackTerms
from pledge.domain.grant import Grant, GrantState
from pledge.domain.records import PurchaseRecord
from pledge.usecases.ports import UnitOfWork

SHOWN = 5  # purchases named as having taken a limit


@dataclass(frozen=True, slots=True)
class EarnsNothing:
    """The amount for this price paid is zero."""

    price_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class AlreadyPaid:
    """Another campaign of the promise group paid this purchase (stacking is not allowed)."""

    campaign: str


@dataclass(frozen=True, slots=True)
class PerAccountTaken:
    """The limit per account was taken by ``purchases`` (the first ``SHOWN``); those the group
    paid elsewhere name their campaign in ``paid_elsewhere``."""

    limit: int
    purchases: tuple[str, ...]
    paid_elsewhere: Mapping[str, str]  # purchase id -> campaign


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    """A grant that took a device's limit: ``paid_by`` is the other campaign of the group, if any."""

    purchase_id: str
    account_id: str
    paid_by: str | None


@dataclass(frozen=True, slots=True)
class PerSerialTaken:
    """The limit per serial was taken by ``taken`` (the first ``SHOWN``)."""

    limit: int
    serial: str
    taken: tuple[DeviceGrant, ...]


@dataclass(frozen=True, slots=True)
class BudgetExhausted:
    """The budget ran out at the last run at purchase ``position`` of ``of`` in issuance order
    (``purchase_id``, bought at ``purchased_at_us``); this purchase comes at or after it."""

    position: int
    of: int
    purchase_id: str
    purchased_at_us: int
    timezone: str  # the campaign's, to show the instant in


@dataclass(frozen=True, slots=True)
class BudgetExhaustedUnplaced:
    """The budget ran out at a last run recorded before runs named where: ``left_out`` qualifying
    purchases got nothing."""

    left_out: int


@dataclass(frozen=True, slots=True)
class NotYetIssued:
    """Not issued yet: the campaign was not launched, or has not run (since the purchase came)."""

    launched: bool
    ever_run: bool


NoGrantReason = (
    EarnsNothing
    | AlreadyPaid
    | PerAccountTaken
    | PerSerialTaken
    | BudgetExhausted
    | BudgetExhaustedUnplaced
    | NotYetIssued
)


def why_no_grant(
    uow: UnitOfWork,
    terms: CashbackTerms,
    unpaid: Sequence[PurchaseRecord],
    qualifies: Callable[[str, str], bool],
) -> dict[str, NoGrantReason]:
    """For each qualifying purchase without a grant of ``terms``' campaign: the reason issuance
    would give, with the facts behind it. ``qualifies(purchase_id, account_id)`` evaluates the terms for a
    purchase of another account (a device's earlier buyer)."""
    if not unpaid:
        return {}
    others = [] if terms.stacking_allowed else _others(uow, terms)
    paid_by = _paid_in_group(uow, others, [p.purchase_id for p in unpaid])
    group = Group(others, qualifies)
    runs = _Runs(uow, terms.campaign_id)  # read only if a purchase gets that far (an eligibility read's cost)
    out: dict[str, NoGrantReason] = {}
    for purchase in unpaid:
        out[purchase.purchase_id] = (
            _earns_nothing(purchase, terms)
            or _already_paid(purchase, paid_by)
            or _per_account(uow, terms, purchase, paid_by)
            or _per_serial(uow, terms, purchase, group)
            or _budget(purchase, runs.last, terms)
            or _not_yet(runs.launched, runs.last)
        )
    return out


class _Runs:
    """The campaign's last run and whether it was launched, read once when first asked."""

    def __init__(self, uow: UnitOfWork, campaign_id: str) -> None:
        self._uow, self._campaign_id = uow, campaign_id

    @cached_property
    def last(self) -> dict[str, Any] | None:
        return _last_run(self._uow, self._campaign_id)

    @cached_property
    def launched(self) -> bool:
        return self._uow.budgets.get(self._campaign_id) is not None


class Group:
    """The other campaigns of ``terms``' promise group, when their payments count here."""

    def __init__(self, others: list[str], qualifies: Callable[[str, str], bool]) -> None:
        self.others = others
        self.qualifies = qualifies

    def paid_device(self, uow: UnitOfWork, serial: str, limit: int) -> list[Grant]:
        """Grants of the group's other campaigns to qualifying purchases of one device."""
        found = []
        for other in self.others:
            for grant in uow.grants.with_serial(other, serial, limit):
                if grant.state is not GrantState.REVOKED and self.qualifies(
                    grant.purchase_id, grant.account_id
                ):
                    found.append(grant)
        return found


def _others(uow: UnitOfWork, terms: CashbackTerms) -> list[str]:
    return sorted(
        c.campaign_id
        for c in uow.campaigns.all()
        if c.promise_group == terms.group and c.campaign_id != terms.campaign_id
    )


def _paid_in_group(uow: UnitOfWork, others: list[str], purchase_ids: list[str]) -> dict[str, str]:
    paid: dict[str, str] = {}
    for other in others:  # by id: the same campaign the dry run counts it under
        for purchase_id, grant in uow.grants.for_purchases(other, purchase_ids).items():
            if grant.state is not GrantState.REVOKED:
                paid.setdefault(purchase_id, other)
    return paid


def _earns_nothing(purchase: PurchaseRecord, terms: CashbackTerms) -> EarnsNothing | None:
    if terms.benefit.earns(purchase.price_minor, purchase.purchased_at_us):
        return None
    return EarnsNothing(purchase.price_minor, purchase.currency)


def _already_paid(purchase: PurchaseRecord, paid_by: dict[str, str]) -> AlreadyPaid | None:
    other = paid_by.get(purchase.purchase_id)
    return None if other is None else AlreadyPaid(other)


def _per_account(
    uow: UnitOfWork, terms: CashbackTerms, purchase: PurchaseRecord, paid_by: dict[str, str]
) -> PerAccountTaken | None:
    limit = terms.per_account
    if limit is None:
        return None
    taken = uow.grants.page(
        campaign_id=terms.campaign_id, account_id=purchase.account_id, starting_after=None, limit=limit
    )
    # The account's purchases the group paid elsewhere count as this campaign's own grants.
    elsewhere = {p: c for p, c in paid_by.items() if p != purchase.purchase_id}
    ids = sorted([g.purchase_id for g in taken] + list(elsewhere))
    if len(ids) < limit:
        return None
    shown = tuple(ids[:SHOWN])
    return PerAccountTaken(limit, shown, {p: elsewhere[p] for p in shown if p in elsewhere})


def _per_serial(
    uow: UnitOfWork, terms: CashbackTerms, purchase: PurchaseRecord, group: Group
) -> PerSerialTaken | None:
    limit = terms.per_serial
    if limit is None or not purchase.serial:
        return None
    taken = uow.grants.with_serial(terms.campaign_id, purchase.serial, limit)
    if len(taken) < limit:
        taken += group.paid_device(uow, purchase.serial, limit)
    taken = [g for g in taken if g.purchase_id != purchase.purchase_id]
    if len(taken) < limit:
        return None
    return PerSerialTaken(
        limit,
        purchase.serial,
        tuple(
            DeviceGrant(
                g.purchase_id, g.account_id, None if g.campaign_id == terms.campaign_id else g.campaign_id
            )
            for g in taken[:SHOWN]
        ),
    )


def _last_run(uow: UnitOfWork, campaign_id: str) -> dict[str, Any] | None:
    runs = [e for e in uow.campaigns.events(campaign_id) if e["kind"] == "run"]
    return runs[-1] if runs else None


def _budget(
    purchase: PurchaseRecord, last_run: dict[str, Any] | None, terms: CashbackTerms
) -> BudgetExhausted | BudgetExhaustedUnplaced | None:
    ran_out = None if last_run is None else last_run["detail"].get("budget_ran_out")
    if ran_out is None:
        left_out = 0 if last_run is None else int(last_run["detail"].get("budget_exhausted", 0))
        return BudgetExhaustedUnplaced(left_out) if left_out else None
    first = (int(ran_out["purchased_at_us"]), str(ran_out["purchase_id"]))
    if (purchase.purchased_at_us, purchase.purchase_id) < first:
        return None  # before where the budget ran out: it was not there when the campaign ran
    return BudgetExhausted(
        ran_out["position"],
        ran_out["of"],
        first[1],
        first[0],
        terms.timezone,
    )


def _not_yet(launched: bool, last_run: dict[str, Any] | None) -> NotYetIssued:
    return NotYetIssued(launched, last_run is not None)
