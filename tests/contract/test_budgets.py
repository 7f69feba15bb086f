"""The ``Budgets`` port: a budget never leaves [0, funded], refused as a clean False by ``adjust``."""

from __future__ import annotations

import pytest

from pledge.usecases.ports import Budget, UnitOfWork
from tests.contract.conftest import Store, campaign


def _funded(u: UnitOfWork, funded: int = 1_000, remaining: int = 1_000) -> None:
    u.campaigns.add(campaign("c1"))
    u.budgets.create(Budget("c1", "CNY", funded, remaining))


def test_a_budget_reads_back_and_an_unknown_one_is_none(uow: UnitOfWork) -> None:
    _funded(uow, 1_000, 600)
    assert uow.budgets.get("c1") == Budget("c1", "CNY", 1_000, 600)
    assert uow.budgets.get("c2") is None


def test_adjust_applies_a_change_within_bounds(uow: UnitOfWork) -> None:
    _funded(uow)
    assert uow.budgets.adjust("c1", -400)
    assert uow.budgets.adjust("c1", -600)  # down to exactly zero
    assert uow.budgets.get("c1") == Budget("c1", "CNY", 1_000, 0)
    assert uow.budgets.adjust("c1", 500, 500)  # a top-up raises both
    assert uow.budgets.get("c1") == Budget("c1", "CNY", 1_500, 500)


@pytest.mark.parametrize(
    ("delta_remaining", "delta_funded"),
    [(-1_001, 0), (1, 0), (0, -1), (-2_000, -1_000)],
    ids=["below-zero", "above-funded", "funded-below-remaining", "both-negative"],
)
def test_adjust_refuses_a_change_out_of_bounds_and_changes_nothing(
    uow: UnitOfWork, delta_remaining: int, delta_funded: int
) -> None:
    _funded(uow)
    assert not uow.budgets.adjust("c1", delta_remaining, delta_funded)
    assert uow.budgets.get("c1") == Budget("c1", "CNY", 1_000, 1_000)


def test_adjust_of_an_unknown_budget_is_false(uow: UnitOfWork) -> None:
    assert not uow.budgets.adjust("nobody", 0)


@pytest.mark.parametrize(
    "budget",
    [Budget("c1", "CNY", 100, 101), Budget("c1", "CNY", 100, -1), Budget("c9", "CNY", 100, 100)],
    ids=["above-funded", "negative", "unknown-campaign"],
)
def test_the_constraints_refuse_a_bad_budget(store: Store, budget: Budget) -> None:
    with store.uow() as u:
        u.campaigns.add(campaign("c1"))
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.budgets.create(budget)


def test_a_campaign_has_one_budget(store: Store) -> None:
    with store.uow() as u:
        _funded(u)
        u.commit()
    with store.uow() as u, pytest.raises(store.refused):
        u.budgets.create(Budget("c1", "CNY", 5, 5))
    with store.uow() as u:
        assert u.budgets.get("c1") == Budget("c1", "CNY", 1_000, 1_000)
