"""A large import into an empty table is a bulk load: indexes rebuilt once, accounts checked once.

The threshold is lowered so a few hundred rows take the path that millions take.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect

import pledge.adapters.sqlalchemy.purchases as sql_purchases
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.errors import InputError
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases

ROWS = 300
AT_US = 1_315_000_000_000_000


def _purchases(n: int = ROWS) -> list[PurchaseRecord]:
    return [
        PurchaseRecord(
            f"P{i:05d}", f"A{i % 200:04d}", "mi-1", f"S{i:05d}", AT_US + i, 199900, "CNY", "completed", ""
        )
        for i in range(n)
    ]


@pytest.fixture
def app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setattr(sql_purchases, "BULK_LOAD_ROWS", 100)
    app = App(db_url)
    upgrade(app.engine)
    import_accounts(app.uow, [[AccountRecord(f"A{i:04d}", "CN", AT_US) for i in range(200)]])
    yield app
    app.close()  # its pooled connections, before the test's schema is dropped


def _indexes(app: App) -> set[str]:
    return {str(index["name"]) for index in inspect(app.engine).get_indexes("purchases")}


def _count(app: App) -> int:
    with app.uow() as uow:
        return len(uow.purchases.of_account("A0001")[1])


def test_bulk_load_rebuilds_indexes_and_reimport_changes_nothing(app: App) -> None:
    before = _indexes(app)
    assert {"ix_purchases_purchased_at_us", "ix_purchases_account_id"} <= before
    rows = _purchases()
    assert import_purchases(app.uow, [rows[:150], rows[150:]], expected_rows=ROWS) == ImportResult(
        imported=ROWS, unchanged=0, updated=0, revoked=0, clawbacks=0
    )
    assert _indexes(app) == before
    # The table is not empty any more: the same file again takes the ordinary path.
    again = import_purchases(app.uow, [rows], expected_rows=ROWS)
    assert again == ImportResult(imported=0, unchanged=ROWS, updated=0, revoked=0, clawbacks=0)
    assert _count(app) == 2  # P00001 and P00201


def test_an_unknown_account_in_a_bulk_load_is_named_and_nothing_is_kept(app: App) -> None:
    rows = _purchases()
    rows[250] = rows[250]._replace(account_id="GHOST")
    before = _indexes(app)
    with pytest.raises(InputError) as refused:
        import_purchases(app.uow, [rows[:150], rows[150:]], expected_rows=ROWS)
    assert refused.value.code == "unknown_account"
    assert "P00250" in str(refused.value) and "GHOST" in str(refused.value)
    assert _count(app) == 0
    assert _indexes(app) == before  # the drop was rolled back with the rows


def test_update_cannot_move_a_purchase_to_an_unknown_account(app: App) -> None:
    rows = _purchases()
    import_purchases(app.uow, [rows], expected_rows=ROWS)
    moved = [*rows[:10], rows[10]._replace(account_id="GHOST")]
    with pytest.raises(InputError) as refused:
        import_purchases(
            app.uow, [moved], update=True, expected_rows=len(moved), corrector=Corrector(app.rules, app.clock)
        )
    assert refused.value.code == "unknown_account" and "P00010" in str(refused.value)


def test_a_bulk_load_repeating_a_row_is_still_one_purchase_with_its_account_fields(app: App) -> None:
    rows = _purchases()
    assert import_purchases(
        app.uow, [rows[:150], [rows[0], *rows[150:]]], expected_rows=ROWS + 1
    ) == ImportResult(imported=ROWS, unchanged=1, updated=0, revoked=0, clawbacks=0)
    with app.engine.connect() as conn:  # every purchase carries its account's fields (ADR 12)
        fields = set(conn.exec_driver_sql("SELECT account_region, account_registered_at_us FROM purchases"))
    assert fields == {("CN", AT_US)}


def test_the_ordinary_and_the_colliding_paths_copy_each_purchases_own_account_fields(app: App) -> None:
    import_accounts(app.uow, [[AccountRecord(f"B{i:04d}", "HK", AT_US + i) for i in range(10)]])
    rows = [
        PurchaseRecord(f"Q{i:05d}", f"B{i % 10:04d}", "mi-1", "", AT_US, 100, "HKD", "completed", "")
        for i in range(20)
    ]
    assert import_purchases(app.uow, [rows[:10]]).imported == 10  # below the bulk size
    again = import_purchases(app.uow, [rows[5:]])  # half stored already: compared row by row
    assert (again.imported, again.unchanged) == (10, 5)
    with app.engine.connect() as conn:
        stored = set(
            conn.exec_driver_sql("SELECT account_id, account_region, account_registered_at_us FROM purchases")
        )
    assert stored == {(f"B{i:04d}", "HK", AT_US + i) for i in range(10)}
