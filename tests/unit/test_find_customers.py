"""Finding a customer the way they describe themselves, on the memory fakes."""

from __future__ import annotations

from unittest.mock import patch

import pledge.usecases.customers as customers
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.customers import CustomerMatch, CustomerSearch, find_customers
from pledge.usecases.ports import UnitOfWorkFactory


def _world() -> UnitOfWorkFactory:
    uow = memory_uow_factory(MemoryStore())
    with uow() as u:
        u.purchases.add_accounts(
            [
                AccountRecord("A1", "CN", 0, email="li@example.com", phone="+8613800138000"),
                AccountRecord("A2", "CN", 0, wechat_openid="o-123"),
                AccountRecord("13800138000", "CN", 0),  # an account id that looks like a phone number
            ],
            update=False,
        )
        u.purchases.add_purchases(
            [PurchaseRecord("P1", "A2", "sku", "SN-9", 10, 100, "CNY", "completed", "")], update=False
        )
        u.commit()
    return uow


def test_an_email_is_matched_in_its_canonical_form() -> None:
    found = find_customers(_world(), "  Li@Example.com ")
    assert found == CustomerSearch("Li@Example.com", (CustomerMatch("A1", ("email",)),), truncated=False)


def test_a_mainland_mobile_without_its_country_code_matches_the_phone_and_the_id() -> None:
    found = find_customers(_world(), "138-0013-8000")
    assert found.matches == (CustomerMatch("A1", ("phone",)),)
    found = find_customers(_world(), "13800138000")
    assert found.matches == (
        CustomerMatch("13800138000", ("account_id",)),
        CustomerMatch("A1", ("phone",)),
    )


def test_an_order_number_a_serial_and_an_openid_find_their_account() -> None:
    world = _world()
    assert find_customers(world, "P1").matches == (CustomerMatch("A2", ("purchase_id",)),)
    assert find_customers(world, "SN-9").matches == (CustomerMatch("A2", ("serial",)),)
    assert find_customers(world, "o-123").matches == (CustomerMatch("A2", ("wechat_openid",)),)


def test_text_that_is_no_address_nor_number_matches_nothing() -> None:
    assert find_customers(_world(), "not@an address").matches == ()


def test_too_many_matches_are_cut_and_said_so() -> None:
    with patch.object(customers, "MAX_MATCHES", 1):
        found = find_customers(_world(), "13800138000")
    assert found.matches == (CustomerMatch("13800138000", ("account_id",)),)
    assert found.truncated
