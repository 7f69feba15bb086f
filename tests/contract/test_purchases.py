"""The ``Purchases`` port's import and look-ups (scans have their own agreement tests:
tests/integration/test_scan_agreement.py)."""

from __future__ import annotations

import pytest

from pledge.domain.errors import InputError
from pledge.domain.records import PurchaseRecord
from pledge.usecases.ports import UnitOfWork
from tests.contract.conftest import account


def _purchase(
    purchase_id: str, account_id: str = "A1", at_us: int = 500, **changes: object
) -> PurchaseRecord:
    row = PurchaseRecord(
        purchase_id, account_id, "sku-1", "S-" + purchase_id, at_us, 9_900, "CNY", "completed", ""
    )
    return row._replace(**changes)


def _load(u: UnitOfWork) -> None:
    u.purchases.begin_load("accounts", 3)
    assert u.purchases.add_accounts(
        [account("A1", email="a1@example.com"), account("A2", phone="+8613800000000"), account("A3")],
        update=False,
    ) == (3, 0)
    u.purchases.finish_load("accounts")
    u.purchases.begin_load("purchases", 3)
    assert u.purchases.add_purchases(
        [_purchase("P2", at_us=700), _purchase("P1", at_us=700), _purchase("P3", "A2", 100)], update=False
    ) == (3, 0)
    u.purchases.finish_load("purchases")


def test_an_account_reads_back_with_its_purchases_by_time_then_id(uow: UnitOfWork) -> None:
    _load(uow)
    found, rows = uow.purchases.of_account("A1")
    assert found == account("A1", email="a1@example.com")
    assert rows == [_purchase("P1", at_us=700), _purchase("P2", at_us=700)]
    assert uow.purchases.of_account("A9") == (None, [])


def test_a_reimport_of_the_same_rows_changes_nothing(uow: UnitOfWork) -> None:
    _load(uow)
    assert uow.purchases.add_purchases([_purchase("P1", at_us=700), _purchase("P4")], update=False) == (1, 1)
    assert list(uow.purchases.changed()) == []


def test_a_changed_row_is_refused_without_update_and_replaced_with_it(uow: UnitOfWork) -> None:
    _load(uow)
    with pytest.raises(InputError) as refused:
        uow.purchases.add_purchases([_purchase("P1", at_us=700, status="returned")], update=False)
    assert refused.value.code == "conflicting_reimport"
    returned = _purchase("P1", at_us=700, status="returned")
    assert uow.purchases.add_purchases([returned, _purchase("P2", at_us=700)], update=True) == (1, 1)
    assert list(uow.purchases.changed()) == ["P1"]
    assert uow.purchases.of_account("A1")[1][0] == returned


def _import_purchases(u: UnitOfWork, rows: list[PurchaseRecord]) -> None:
    """One import: a store may check the accounts as rows arrive or when the load finishes."""
    u.purchases.begin_load("purchases", len(rows))
    u.purchases.add_purchases(rows, update=True)
    u.purchases.finish_load("purchases")


def test_a_purchase_of_an_unknown_account_is_refused(uow: UnitOfWork) -> None:
    _load(uow)
    with pytest.raises(InputError) as refused:
        _import_purchases(uow, [_purchase("P1"), _purchase("P9", "A9")])
    assert refused.value.code == "unknown_account"


@pytest.mark.parametrize(
    ("field", "values", "expected"),
    [
        ("account_id", ["A2", "A1", "A9"], ["A1", "A2"]),
        ("email", ["a1@example.com", ""], ["A1"]),
        ("phone", ["+8613800000000"], ["A2"]),
        ("purchase_id", ["P3", "P1", "P2"], ["A1", "A2"]),
        ("serial", ["S-P3"], ["A2"]),
        ("wechat_openid", ["nobody"], []),
    ],
)
def test_find_accounts_by_a_field(
    uow: UnitOfWork, field: str, values: list[str], expected: list[str]
) -> None:
    _load(uow)
    assert uow.purchases.find_accounts(field, values, 10) == expected
    assert uow.purchases.find_accounts(field, values, 1) == expected[:1]
