"""Reading accounts and purchases files: round trips, refusals that name row and field, scale shape."""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pledge.adapters.files.generate import generate
from pledge.adapters.files.readers import count_rows, read_accounts, read_purchases
from pledge.domain.errors import InputError
from pledge.domain.money import CURRENCY_EXPONENTS, format_minor
from pledge.domain.records import PURCHASE_COLUMNS, PURCHASE_STATUSES, PurchaseRecord
from pledge.domain.timeutil import from_us, parse_instant
from pledge.domain.validation import MAX_ERRORS, BadRowsError, validate_purchase

GOOD = [
    "P1",
    "A1",
    "mi-1",
    "S1",
    "2011-12-07T23:59:59+08:00",
    "1999.00",
    "CNY",
    "completed",
    "mi.com",
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or list(PURCHASE_COLUMNS))
        writer.writerows(rows)
    return path


def purchases(path: Path, batch_rows: int = 50_000) -> list[PurchaseRecord]:
    return [record for batch in read_purchases(path, batch_rows) for record in batch]


def refused(path: Path, batch_rows: int = 50_000) -> InputError:
    with pytest.raises(InputError) as caught:
        purchases(path, batch_rows)
    return caught.value


def row(n: int, **changes: str) -> list[str]:
    values = dict(zip(PURCHASE_COLUMNS, GOOD, strict=True))
    values.update(purchase_id=f"P{n}", serial=f"S{n}")
    values.update(changes)
    return [values[c] for c in PURCHASE_COLUMNS]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("generated")
    out = {}
    for fmt in ("csv", "parquet"):
        result = generate(base / fmt, purchases=3_000, seed=7, fmt=fmt)
        out[f"purchases.{fmt}"], out[f"accounts.{fmt}"] = result.purchases_path, result.accounts_path
    return out


def test_csv_and_parquet_of_one_seed_read_the_same(generated: dict[str, Path]) -> None:
    from_csv = purchases(generated["purchases.csv"], batch_rows=700)
    assert len(from_csv) == 3_000
    assert from_csv == purchases(generated["purchases.parquet"], batch_rows=1_000)
    accounts_csv = [a for batch in read_accounts(generated["accounts.csv"]) for a in batch]
    assert len(accounts_csv) == 3_000 * 10 // 13
    assert accounts_csv == [a for batch in read_accounts(generated["accounts.parquet"], 333) for a in batch]


def test_the_fast_path_agrees_with_row_by_row_validation(generated: dict[str, Path]) -> None:
    with generated["purchases.csv"].open(encoding="utf-8") as handle:
        expected = [validate_purchase(r, n) for n, r in enumerate(csv.DictReader(handle), start=1)]
    assert purchases(generated["purchases.csv"]) == expected


def test_generation_is_deterministic(tmp_path: Path, generated: dict[str, Path]) -> None:
    for fmt in ("csv", "parquet"):
        again = generate(tmp_path / fmt, purchases=3_000, seed=7, fmt=fmt)
        assert again.purchases_path.read_bytes() == generated[f"purchases.{fmt}"].read_bytes()
        assert again.accounts_path.read_bytes() == generated[f"accounts.{fmt}"].read_bytes()
    other = generate(tmp_path / "other", purchases=3_000, seed=8, fmt="csv")
    assert other.purchases_path.read_bytes() != generated["purchases.csv"].read_bytes()


def test_generated_data_holds_scenario_a(generated: dict[str, Path]) -> None:
    records = purchases(generated["purchases.csv"])
    by_id = {r.purchase_id: r for r in records}
    edges = {
        "P000000001": "2011-12-07T23:59:59+08:00",
        "P000000002": "2011-12-07T16:30:00Z",
        "P000000003": "2011-08-31T23:59:59+08:00",
        "P000000004": "2011-09-01T00:00:00+08:00",
    }
    for pid, text in edges.items():
        assert by_id[pid].purchased_at_us == parse_instant(text)
    text = generated["purchases.csv"].read_text(encoding="utf-8")
    assert {"+08:00,", "Z,", "-05:00,", "+09:00,"} <= {
        s for s in ("+08:00,", "Z,", "-05:00,", "+09:00,") if s in text
    }
    statuses = Counter(r.status for r in records)
    assert set(statuses) == set(PURCHASE_STATUSES) and statuses["completed"] > 0.8 * len(records)
    assert Counter(r.sku for r in records).most_common(1)[0][0] == "mi-1"
    assert {"mi-2", "mi-1s", "redmi-1"} <= {r.sku for r in records}
    assert Counter(r.price_minor for r in records).most_common(1)[0][0] == 199900
    assert {179900, 149900} <= {r.price_minor for r in records}
    serials = Counter(r.serial for r in records if r.serial)
    assert any(n > 1 for n in serials.values())  # resold devices
    assert any(r.serial == "" for r in records)
    assert any(n > 1 for n in Counter(r.account_id for r in records).values())  # per_account
    window_end = parse_instant("2011-12-08T00:00:00+08:00")
    assert any(
        window_end <= r.purchased_at_us < window_end + 7 * 86_400_000_000 for r in records
    )  # near misses
    accounts = [a for batch in read_accounts(generated["accounts.csv"]) for a in batch]
    regions = Counter(a.region for a in accounts)
    assert regions.most_common(1)[0][0] == "CN" and {"HK", "MO", "TW", "US"} <= set(regions)
    assert {r.account_id for r in records} <= {a.account_id for a in accounts}


def test_generate_edges(tmp_path: Path) -> None:
    empty = generate(tmp_path / "empty", purchases=0, seed=1, fmt="parquet")
    assert (empty.accounts, empty.purchases) == (1, 0)
    assert purchases(empty.purchases_path) == []
    tiny = generate(tmp_path / "tiny", purchases=5, seed=1, fmt="csv", accounts=2)
    assert {r.account_id for r in purchases(tiny.purchases_path)} == {"A0000001", "A0000002"}
    with pytest.raises(InputError, match="not csv or parquet"):
        generate(tmp_path, purchases=1, seed=1, fmt="json")  # type: ignore[arg-type]  # the refusal is under test


def test_count_rows_and_progress(generated: dict[str, Path]) -> None:
    assert count_rows(generated["purchases.parquet"]) == 3_000
    assert count_rows(generated["purchases.csv"]) == 3_000
    seen: list[int] = []
    batches = list(read_purchases(generated["purchases.parquet"], 1_000, progress=seen.append))
    assert [len(b) for b in batches] == [1_000, 1_000, 1_000]
    assert seen == [1_000, 2_000, 3_000]
    assert count_rows(Path("nothing.json")) is None


def test_a_bad_row_names_row_id_and_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "purchases.csv", [row(n) for n in range(1, 17)] + [row(17, price="19.999")])
    error = refused(path)
    assert isinstance(error, BadRowsError)
    assert error.param == "row 17: price"
    assert (
        error.message
        == "purchases.csv row 17 (purchase_id P17), price: '19.999' has 3 decimals but CNY has 2"
    )


def test_a_naive_instant_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "purchases.csv", [row(1), row(2, purchased_at="2011-12-07 10:00")])
    error = refused(path)
    assert error.param == "row 2: purchased_at"
    assert "purchased_at: '2011-12-07 10:00' has no UTC offset" in error.message


def test_errors_are_collected_then_capped(tmp_path: Path) -> None:
    rows = [row(n, status="Done") if n % 3 == 0 else row(n) for n in range(1, 31)]
    error = refused(write_csv(tmp_path / "purchases.csv", rows), batch_rows=4)
    assert isinstance(error, BadRowsError)
    assert [e.param for e in error.errors] == [f"row {n}: status" for n in range(3, 31, 3)]
    assert not error.truncated
    rows = [row(n, currency="RMB") for n in range(1, 100)]
    error = refused(write_csv(tmp_path / "many.csv", rows), batch_rows=7)
    assert isinstance(error, BadRowsError)
    assert len(error.errors) == MAX_ERRORS and error.truncated
    assert error.message.splitlines()[0].startswith("many.csv row 1 (purchase_id P1), currency: 'RMB'")


def test_no_batch_is_yielded_after_a_bad_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "purchases.csv", [row(n, price="x" if n == 5 else "1.00") for n in range(1, 30)]
    )
    received: list[list[PurchaseRecord]] = []
    with pytest.raises(BadRowsError):
        received.extend(read_purchases(path, 4))
    assert [len(b) for b in received] == [4]  # rows 1-4 came before row 5 was seen; nothing after


def test_duplicate_ids(tmp_path: Path) -> None:
    same = write_csv(tmp_path / "same.csv", [row(1), row(2), row(1)])
    assert [r.purchase_id for r in purchases(same)] == ["P1", "P2"]
    different = write_csv(tmp_path / "different.csv", [row(1), row(2), row(1, price="1.00", sku="mi-2")])
    error = refused(different)
    assert error.code == "duplicate_id"
    assert (
        error.message
        == "different.csv row 3 (purchase_id P1): same purchase_id as row 1 but a different sku, price"
    )
    error = refused(different, batch_rows=2)  # the copies sit in two batches
    assert error.code == "duplicate_id" and "row 3" in error.message and "row 1" in error.message
    assert len(purchases(same, batch_rows=2)) == 3  # identical copies in two batches: a no-op downstream


def test_csv_shapes(tmp_path: Path) -> None:
    header = [
        "Channel",
        "status",
        " currency ",
        "price",
        "purchased_at",
        "serial",
        "sku",
        "account_id",
        "purchase_id",
        "note",
    ]
    reordered = [[*reversed(row(1)), "extra"], [*reversed(row(2, channel="小米之家", serial="")), ""]]
    records = purchases(write_csv(tmp_path / "purchases.csv", reordered, header))
    assert [(r.purchase_id, r.channel, r.serial) for r in records] == [
        ("P1", "mi.com", "S1"),
        ("P2", "小米之家", ""),
    ]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "purchases.csv").read_bytes())
    assert purchases(bom) == records
    quoted = write_csv(
        tmp_path / "quoted.csv", [row(1, channel='shop, "north"'), row(2, channel="a\nb"), row(3, price="x")]
    )
    error = refused(quoted)
    assert isinstance(error, BadRowsError)
    assert [e.param for e in error.errors] == ["row 2: channel", "row 3: price"]
    assert "contains control characters" in error.errors[0].message


def test_structural_csv_problems_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "purchases.csv"
    write_csv(path, [row(1), row(2)[:5], row(3)])
    error = refused(path)
    assert error.param == "row 2" and "has 5 fields but the header has 9" in error.message
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(",".join(PURCHASE_COLUMNS).encode() + b"\n" + ",".join(row(1)).encode() + b"\xe9\n")
    assert refused(bad).code in ("invalid_encoding", "invalid_row")


def test_missing_columns_and_files(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "purchases.csv", [row(1)[:-1]], list(PURCHASE_COLUMNS[:-1]))
    error = refused(path)
    assert (
        error.code == "missing_column"
        and error.param == "channel"
        and "missing column channel" in error.message
    )
    (tmp_path / "empty.csv").write_text("")
    assert refused(tmp_path / "empty.csv").code == "missing_column"
    with pytest.raises(InputError, match=r"purchases\.json: unsupported file type '\.json'"):
        read_purchases(tmp_path / "purchases.json")
    with pytest.raises(InputError, match="no such file"):
        read_purchases(tmp_path / "absent.csv")


def parquet(path: Path, columns: dict[str, pa.Array[Any]]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def text_columns(rows: list[list[str]]) -> dict[str, pa.Array[Any]]:
    return {name: pa.array([r[i] for r in rows]) for i, name in enumerate(PURCHASE_COLUMNS)}


def test_parquet_types(tmp_path: Path) -> None:
    rows = [row(1), row(2, purchased_at="2011-12-07T16:30:00Z", price="1499.5")]
    expected = purchases(write_csv(tmp_path / "p.csv", rows))
    assert purchases(parquet(tmp_path / "text.parquet", text_columns(rows))) == expected
    typed = text_columns(rows)
    typed["purchased_at"] = pa.array([parse_instant(r[4]) // 1000 for r in rows]).cast(
        pa.timestamp("ms", tz="Asia/Shanghai")
    )
    typed["price"] = pa.array([Decimal(r[5]) for r in rows], pa.decimal128(12, 3))
    typed["serial"] = pa.array(["S1", None]).dictionary_encode()
    typed["purchase_id"] = pa.array([1, 2], pa.int64())
    got = purchases(parquet(tmp_path / "typed.parquet", typed))
    assert got == [expected[0]._replace(purchase_id="1"), expected[1]._replace(purchase_id="2", serial="")]


@pytest.mark.parametrize(
    ("column", "array", "reason"),
    [
        ("price", pa.array([1999.0, 1999.0]), "float"),
        ("price", pa.array([1999, 1999]), "int64"),
        ("purchased_at", pa.array([0, 0]).cast(pa.timestamp("us")), "without time zone"),
        ("purchased_at", pa.array([0, 0], pa.int32()).cast(pa.date32()), "date32"),
        ("status", pa.array([True, True]), "bool"),
    ],
)
def test_parquet_columns_that_cannot_hold_the_field_are_refused(
    tmp_path: Path, column: str, array: pa.Array[Any], reason: str
) -> None:
    columns = text_columns([row(1), row(2)])
    columns[column] = array
    error = refused(parquet(tmp_path / "purchases.parquet", columns))
    assert error.code == "invalid_column" and error.param == column
    assert reason in error.message and f"column {column}" in error.message


def test_parquet_row_errors_name_the_row(tmp_path: Path) -> None:
    columns = text_columns([row(1), row(2), row(3)])
    columns["price"] = pa.array([Decimal("1.00"), Decimal("19.999"), Decimal("2.00")], pa.decimal128(10, 3))
    columns["account_id"] = pa.array(["A1", "A2", None])
    error = refused(parquet(tmp_path / "purchases.parquet", columns))
    assert isinstance(error, BadRowsError)
    assert [e.message for e in error.errors] == [
        "purchases.parquet row 2 (purchase_id P2), price: '19.999' has 3 decimals but CNY has 2",
        "purchases.parquet row 3 (purchase_id P3), account_id: is empty",
    ]


# Printable text without surrounding blanks: what an id, sku, serial or channel may be.
_LETTERS = st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"), include_characters=" "
)
_TEXT = st.text(_LETTERS, min_size=1, max_size=128).filter(lambda s: s == s.strip() and s.isprintable())
_PURCHASES = st.builds(
    PurchaseRecord,
    purchase_id=_TEXT,
    account_id=_TEXT,
    sku=_TEXT,
    serial=st.one_of(st.just(""), _TEXT),
    purchased_at_us=st.integers(min_value=0, max_value=4_102_444_800_000_000),
    price_minor=st.integers(min_value=0, max_value=2**63 - 1),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    status=st.sampled_from(PURCHASE_STATUSES),
    channel=st.one_of(st.just(""), _TEXT),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_PURCHASES, min_size=1, max_size=5, unique_by=lambda r: r.purchase_id),
    st.integers(min_value=-14 * 4, max_value=14 * 4),
)
def test_any_valid_purchase_survives_a_round_trip(records: list[PurchaseRecord], quarter_hours: int) -> None:
    zone = timezone(timedelta(minutes=15 * quarter_hours))
    rows = [
        [
            r.purchase_id,
            r.account_id,
            r.sku,
            r.serial,
            from_us(r.purchased_at_us).astimezone(zone).isoformat(),
            format_minor(r.price_minor, r.currency),
            r.currency,
            r.status,
            r.channel,
        ]
        for r in records
    ]
    with tempfile.TemporaryDirectory() as folder:
        assert purchases(write_csv(Path(folder) / "p.csv", rows), batch_rows=2) == records
        assert purchases(parquet(Path(folder) / "p.parquet", text_columns(rows)), batch_rows=3) == records


def test_hostile_csv_shapes_are_refused_quickly_and_named(tmp_path: Path) -> None:
    """Over-long lines and fields, too many columns, NUL bytes: exit-2 errors naming where, never a crash."""
    header = ",".join(PURCHASE_COLUMNS)
    good = ",".join(GOOD)
    cases = {
        # A 5 MB "line" with no newline is refused before it is held whole.
        "noeol.csv": (f"{header}\n{good}\n" + "y" * (5 << 20), "line 3", "longer than"),
        # A field bigger than the csv module's limit, in a row the fast reader finds malformed.
        "field.csv": (f"{header}\n{good}\nP2,{'z' * 200_000},extra\n", "row 2", "field larger than"),
        "columns.csv": (header + "".join(f",c{i}" for i in range(300)) + "\n", "header", "columns"),
        "nul.csv": (f"{header}\n{good}\n" + good.replace("mi.com", "mi\x00com") + "\n", "row 2", "control"),
    }
    for name, (text, where, reason) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        error = refused(path)
        message = str(error)
        assert where in message and reason in message, (name, message)
        assert len(message) < 600, (name, len(message))  # a hostile value is quoted clipped, not whole


def test_a_huge_value_is_quoted_clipped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [row(1, purchased_at="2011-12-07T" + "9" * 100_000)])
    message = str(refused(path))
    assert "purchased_at" in message and len(message) < 400
