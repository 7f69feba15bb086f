"""The plan catalog: what can be subscribed to, at which list price, for how long.

A plans file (``{currency, plans: [{id, name, list_price, period}]}``) is
validated here into a :class:`Catalog`, every error naming its row and field
(``plans[1].list_price``). The catalog is hashed over a canonical JSON form,
like campaign terms: applying the same file again is recognisably a no-op and
a changed file becomes the next catalog version. Periods are canonicalised
(``1 year`` is stored as ``12 months``), so rewording a period is not a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pledge.domain.campaign import terms_hash
from pledge.domain.errors import InputError, NotFoundError
from pledge.domain.fields import money_field, slug_field, text_field
from pledge.domain.money import currency_exponent, format_minor
from pledge.domain.periods import Period, parse_period
from pledge.domain.schemas import PLANS, check_document


@dataclass(frozen=True, slots=True)
class Plan:
    """One subscription plan at its list price; ``period`` is one paid term."""

    id: str
    name: str
    list_price_minor: int
    currency: str
    period: Period

    def canonical(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "list_price": format_minor(self.list_price_minor, self.currency),
            "period": self.period.describe(),
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    """All plans, in file order (the order operators chose to show them)."""

    currency: str
    plans: tuple[Plan, ...]

    def plan(self, plan_id: str) -> Plan:
        for plan in self.plans:
            if plan.id == plan_id:
                return plan
        raise NotFoundError(
            f"plan {plan_id!r} is not in the catalog (plans: {', '.join(self.plan_ids)})",
            param="plan",
            code="plan_not_found",
        )

    @property
    def plan_ids(self) -> tuple[str, ...]:
        return tuple(plan.id for plan in self.plans)

    def canonical(self) -> dict[str, Any]:
        """The normalized document: what is hashed and stored."""
        return {"currency": self.currency, "plans": [plan.canonical() for plan in self.plans]}

    @property
    def content_hash(self) -> str:
        return terms_hash(self.canonical())


_CODE = "invalid_plans"


def parse_catalog(doc: object) -> Catalog:
    """Validate a plans document (as loaded from YAML/JSON) into a catalog.

    Refused, naming the field: unknown fields, a missing or unknown currency,
    an empty plan list, duplicate or non-slug ids, prices that are not positive
    decimal strings with at most the currency's decimals, periods that do not
    parse (see :func:`pledge.domain.periods.parse_period`).
    """
    if not isinstance(doc, Mapping):
        raise InputError("plans: a mapping {currency, plans} is required", param="plans", code=_CODE)
    check_document(doc, PLANS)
    currency = text_field(doc.get("currency"), "currency", code=_CODE)
    currency_exponent(currency)
    rows = doc.get("plans")
    if not isinstance(rows, list) or not rows:
        raise InputError("plans: a non-empty list of plans is required", param="plans", code=_CODE)
    plans: list[Plan] = []
    first_row: dict[str, int] = {}
    for index, row in enumerate(rows):
        where = f"plans[{index}]"
        if not isinstance(row, Mapping):
            raise InputError(
                f"{where}: a mapping {{id, name, list_price, period}} is required", param=where, code=_CODE
            )
        plan_id = slug_field(row.get("id"), f"{where}.id", code=_CODE)
        if plan_id in first_row:
            raise InputError(
                f"{where}.id: {plan_id!r} is already used by plans[{first_row[plan_id]}]",
                param=f"{where}.id",
                code=_CODE,
            )
        first_row[plan_id] = index
        plans.append(
            Plan(
                id=plan_id,
                name=text_field(row.get("name"), f"{where}.name", code=_CODE),
                list_price_minor=money_field(row.get("list_price"), currency, f"{where}.list_price"),
                currency=currency,
                period=parse_period(row.get("period"), param=f"{where}.period"),
            )
        )
    return Catalog(currency=currency, plans=tuple(plans))


@dataclass(frozen=True, slots=True)
class CatalogVersion:
    """A stored, immutable catalog; a changed file makes the next version."""

    version: int
    content_hash: str
    catalog: Catalog
    author: str
    created_at_us: int


def catalog_changes(previous: Catalog | None, new: Catalog) -> list[str]:
    """What applying ``new`` over ``previous`` changes, one line per plan, for the operator."""
    if previous is None:
        return [f"added {plan.id}" for plan in new.plans]
    if previous.content_hash == new.content_hash:
        return []
    before = {plan.id: plan for plan in previous.plans}
    after = {plan.id: plan for plan in new.plans}
    changes = [f"currency {previous.currency} -> {new.currency}"] if previous.currency != new.currency else []
    for plan in new.plans:
        old = before.get(plan.id)
        if old is None:
            changes.append(f"added {plan.id}")
        elif old.canonical() != plan.canonical():
            fields = [key for key, value in plan.canonical().items() if old.canonical()[key] != value]
            changes.append(f"changed {plan.id}: {', '.join(fields)}")
    changes.extend(f"removed {plan.id}" for plan in previous.plans if plan.id not in after)
    return changes or ["reordered plans"]
