"""The ``Catalogs`` port: versions by number and by the instant they came into force."""

from __future__ import annotations

import pytest

from pledge.domain.catalog import CatalogVersion, parse_catalog
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import Store
from tests.support.billing import MONTHLY_PLAN, plans


def _version(number: int, created_at_us: int, *extra: dict[str, object]) -> CatalogVersion:
    catalog = parse_catalog(plans(*extra))
    return CatalogVersion(number, catalog.content_hash, catalog, "ops", created_at_us)


def test_the_latest_and_the_one_in_force(uow: UnitOfWork) -> None:
    assert uow.catalogs.latest() is None
    assert uow.catalogs.as_of(10) is None
    first, second = _version(1, 100), _version(2, 200, MONTHLY_PLAN)
    uow.catalogs.add(second)
    uow.catalogs.add(first)
    assert uow.catalogs.latest() == second
    assert uow.catalogs.as_of(99) is None
    assert uow.catalogs.as_of(100) == first
    assert uow.catalogs.as_of(199) == first
    assert uow.catalogs.as_of(10**15) == second


@pytest.mark.parametrize(
    "version", [_version(1, 300, MONTHLY_PLAN), _version(2, 300)], ids=["same-number", "same-content"]
)
def test_a_version_number_and_a_content_are_stored_once(store: Store, version: CatalogVersion) -> None:
    with store.uow() as u:
        u.catalogs.add(_version(1, 100))
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.catalogs.add(version)
