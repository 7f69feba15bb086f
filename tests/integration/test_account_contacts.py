"""Accounts with and without contact columns, imported on SQLite and PostgreSQL, and found by support."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import inspect, text

import pledge.adapters.sqlalchemy.purchases as sql_purchases
from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.errors import InputError
from pledge.domain.timeutil import parse_instant
from pledge.usecases.customers import CustomerMatch, find_customers
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases
from tests.support.data import write_files

NOW = parse_instant("2021-08-10T12:00:00+08:00")
AT = "2011-01-01T00:00:00+08:00"
HEADER = ["account_id", "region", "registered_at", "email", "phone", "locale", "wechat_openid"]
ROWS = [
    ["A-cn-1", "CN", AT, "Li.Lei@Example.com", "+86 138 0013 8000", "zh-CN", "oLiLei"],
    ["A-cn-2", "CN", AT, "", "+8613800138001", "en", ""],
    ["A-hk-1", "HK", AT, "han@example.hk", "", "", ""],
]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = App(db_url, NOW)
    upgrade(app.engine)
    yield app
    app.close()  # its pooled connections, before the test's schema is dropped


def _stored(app: App, account_id: str) -> tuple[str, str, str, str]:
    with app.uow() as uow:
        record, _ = uow.purchases.of_account(account_id)
    assert record is not None
    return record.email, record.phone, record.locale, record.wechat_openid


def test_without_the_columns_accounts_load_as_before_with_empty_contacts(app: App, tmp_path: Path) -> None:
    accounts, purchases = write_files(tmp_path)
    assert import_accounts(app.uow, read_accounts(accounts)).imported == 7
    import_purchases(app.uow, read_purchases(purchases))
    assert _stored(app, "A-cn-1") == ("", "", "zh-CN", "")
    # The same file again changes nothing.
    assert import_accounts(app.uow, read_accounts(accounts)) == ImportResult(
        imported=0, unchanged=7, updated=0, revoked=0, clawbacks=0
    )


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_contacts_are_imported_canonical_from_csv_and_parquet(app: App, tmp_path: Path, kind: str) -> None:
    if kind == "csv":
        path = _csv(tmp_path / "accounts.csv", HEADER, ROWS)
    else:
        path = tmp_path / "accounts.parquet"
        pq.write_table(pa.table({name: [row[i] for row in ROWS] for i, name in enumerate(HEADER)}), path)
    assert import_accounts(app.uow, read_accounts(path)).imported == 3
    assert _stored(app, "A-cn-1") == ("li.lei@example.com", "+8613800138000", "zh-CN", "oLiLei")
    assert _stored(app, "A-cn-2") == ("", "+8613800138001", "en", "")
    assert _stored(app, "A-hk-1") == ("han@example.hk", "", "zh-CN", "")
    done = import_accounts(app.uow, read_accounts(path))
    assert (done.imported, done.unchanged) == (0, 3)


def test_some_contact_columns_only_and_in_any_order(app: App, tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "accounts.csv",
        ["phone", "account_id", "registered_at", "region"],
        [["+8613800138000", "A1", AT, "CN"], ["", "A2", AT, "CN"]],
    )
    import_accounts(app.uow, read_accounts(path))
    assert _stored(app, "A1") == ("", "+8613800138000", "zh-CN", "")
    assert _stored(app, "A2") == ("", "", "zh-CN", "")


def test_a_bad_contact_refuses_the_whole_file(app: App, tmp_path: Path) -> None:
    rows = [*ROWS, ["A-bad", "CN", AT, "not-an-address", "", "", ""]]
    path = _csv(tmp_path / "accounts.csv", HEADER, rows)
    with pytest.raises(InputError) as caught:
        import_accounts(app.uow, read_accounts(path))
    assert caught.value.param == "row 4: email"
    assert "accounts.csv row 4 (account_id A-bad), email: 'not-an-address' is not an email address" in str(
        caught.value
    )
    assert find_customers(app.uow, "A-cn-1").matches == ()  # nothing half-applied


def test_a_changed_contact_is_a_conflict_unless_updated(app: App, tmp_path: Path) -> None:
    import_accounts(app.uow, read_accounts(_csv(tmp_path / "a.csv", HEADER, ROWS)))
    changed = [[*ROWS[0][:3], "new@example.com", *ROWS[0][4:]], *ROWS[1:]]
    path = _csv(tmp_path / "b.csv", HEADER, changed)
    with pytest.raises(InputError, match=r"account_id A-cn-1 already exists with a different email \("):
        import_accounts(app.uow, read_accounts(path))
    done = import_accounts(
        app.uow, read_accounts(path), update=True, corrector=Corrector(app.rules, app.clock)
    )
    assert (done.imported, done.unchanged, done.updated) == (1, 2, 1)
    assert _stored(app, "A-cn-1")[0] == "new@example.com"
    # Without the columns, contacts are empty (absent means empty): a difference like any other.
    bare = _csv(tmp_path / "c.csv", HEADER[:3], [row[:3] for row in ROWS])
    with pytest.raises(InputError, match="different email, phone, wechat_openid"):
        import_accounts(app.uow, read_accounts(bare))


def test_support_finds_a_customer_by_each_field(app: App, tmp_path: Path) -> None:
    accounts = _csv(tmp_path / "accounts.csv", HEADER, ROWS)
    import_accounts(app.uow, read_accounts(accounts))
    purchases = _csv(
        tmp_path / "purchases.csv",
        [
            "purchase_id",
            "account_id",
            "sku",
            "serial",
            "purchased_at",
            "price",
            "currency",
            "status",
            "channel",
        ],
        [
            ["P-1", "A-cn-1", "mi-1", "SN-42", AT, "1999.00", "CNY", "completed", ""],
            ["P-2", "A-hk-1", "mi-1", "SN-42", AT, "1999.00", "CNY", "completed", ""],  # resold device
        ],
    )
    import_purchases(app.uow, read_purchases(purchases))

    def found(query: str) -> list[tuple[str, list[str]]]:
        return [(m.account_id, list(m.fields)) for m in find_customers(app.uow, query).matches]

    assert found("A-cn-2") == [("A-cn-2", ["account_id"])]
    assert found("  LI.LEI@example.COM ") == [("A-cn-1", ["email"])]
    assert found("+86 138-0013-8000") == [("A-cn-1", ["phone"])]
    assert found("13800138001") == [("A-cn-2", ["phone"])]  # a mainland number typed without +86
    assert found("P-1") == [("A-cn-1", ["purchase_id"])]
    assert found("SN-42") == [("A-cn-1", ["serial"]), ("A-hk-1", ["serial"])]
    assert found("oLiLei") == [("A-cn-1", ["wechat_openid"])]
    assert found("li.lei") == [] and found("") == []


def test_a_file_without_contacts_writes_only_the_three_columns(app: App, tmp_path: Path) -> None:
    accounts, _ = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    with app.engine.connect() as conn:
        unknown = conn.execute(
            text("SELECT COUNT(*) FROM accounts WHERE email IS NULL AND phone IS NULL AND locale IS NULL")
        ).scalar_one()
    assert unknown == 7  # nothing written for them: no default stored in every row


def test_a_bulk_load_of_accounts_rebuilds_the_search_indexes(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_purchases, "BULK_LOAD_ROWS", 100)
    before = {str(index["name"]) for index in inspect(app.engine).get_indexes("accounts")}
    assert {"ix_accounts_email", "ix_accounts_phone", "ix_accounts_wechat_openid"} <= before
    rows = [[f"B{i:04d}", "CN", AT, f"b{i}@example.com", f"+86138{i:08d}", "", ""] for i in range(300)]
    path = _csv(tmp_path / "accounts.csv", HEADER, rows)
    assert import_accounts(app.uow, read_accounts(path, batch_rows=100), expected_rows=300).imported == 300
    assert {str(index["name"]) for index in inspect(app.engine).get_indexes("accounts")} == before
    assert find_customers(app.uow, "+86 138 0000 0123").matches == (CustomerMatch("B0123", ("phone",)),)
