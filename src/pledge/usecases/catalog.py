"""``plans apply``: the catalog of plans, versioned like campaign terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pledge.domain.catalog import Catalog, CatalogVersion, catalog_changes, parse_catalog
from pledge.domain.errors import RefusedError
from pledge.domain.money import format_minor
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AppliedCatalog:
    """The catalog version a plans file is now, and what applying it changed (nothing: the same file)."""

    version: int
    changed: bool
    changes: tuple[str, ...]  # one line per plan, for the operator
    catalog: Catalog


def plans_json(catalog: Catalog) -> list[dict[str, Any]]:
    """The plans as the API, the CLI and the audit log's catalog snapshots show them."""
    return [
        {"id": p.id, "name": p.name, "list_price": format_minor(p.list_price_minor, p.currency),
         "currency": p.currency, "period": str(p.period)}
        for p in catalog.plans
    ]  # fmt: skip


def current_catalog(uow: UnitOfWork) -> CatalogVersion:
    latest = uow.catalogs.latest()
    if latest is None:
        raise RefusedError("there is no catalog yet: run `pledge plans apply FILE` first", code="no_catalog")
    return latest


def apply_plans(
    uow_factory: UnitOfWorkFactory, clock: Clock, document: Mapping[str, Any], actor: str
) -> AppliedCatalog:
    """A changed file is the next catalog version; the same file again changes nothing."""
    catalog = parse_catalog(document)
    now = clock.now_us()
    with uow_factory() as uow:
        latest = uow.catalogs.latest()
        if latest is not None and latest.content_hash == catalog.content_hash:
            return AppliedCatalog(latest.version, False, (), catalog)
        if latest is not None and latest.catalog.currency != catalog.currency:
            raise RefusedError(
                f"the catalog is in {latest.catalog.currency}; its currency cannot change",
                code="currency_locked",
                param="currency",
            )
        _check_offers_still_covered(uow, catalog)
        number = latest.version + 1 if latest else 1
        uow.catalogs.add(CatalogVersion(number, catalog.content_hash, catalog, actor, now))
        uow.commit()
    changes = catalog_changes(latest.catalog if latest else None, catalog)
    return AppliedCatalog(number, True, tuple(changes), catalog)


def _check_offers_still_covered(uow: UnitOfWork, catalog: Catalog) -> None:
    """A plan that a live offer sells cannot disappear from the catalog under it."""
    for record in uow.campaigns.all():
        if record.kind != "offer" or record.state.value in ("closed", "settled"):
            continue
        versions = uow.campaigns.versions(record.campaign_id)
        applies_to = versions[-1].document.get("applies_to", []) if versions else []
        missing = sorted(set(applies_to) - set(catalog.plan_ids))
        if missing:
            raise RefusedError(
                f"plan {missing[0]} is sold by offer campaign {record.campaign_id}; close the campaign or "
                "change its applies_to before removing the plan",
                code="plan_in_use",
                param="plans",
            )
