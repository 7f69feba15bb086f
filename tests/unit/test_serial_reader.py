"""``read_serials``: the register through the same streaming reader as purchases (CSV and Parquet)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pledge.adapters.files.readers import read_serials
from pledge.domain.serials import SerialRecord
from pledge.domain.timeutil import parse_instant
from pledge.domain.validation import BadRowsError

SOLD = parse_instant("2011-10-05T10:00:00+08:00")
ON = parse_instant("2011-10-06T02:00:00Z")


def test_csv_with_and_without_activation(tmp_path: Path) -> None:
    path = tmp_path / "serials.csv"
    path.write_text(
        "serial,sku,sold_at,channel,region,activated_at\n"
        "S1,mi-1,2011-10-05T10:00:00+08:00,reseller,CN,2011-10-06T02:00:00Z\n"
        "S2,mi-1,2011-10-05T02:00:00.000Z,,HK,\n",
        encoding="utf-8",
    )
    (rows,) = list(read_serials(path))
    assert rows == [
        SerialRecord("S1", "mi-1", SOLD, "reseller", "CN", ON),
        SerialRecord("S2", "mi-1", SOLD, "", "HK", None),
    ]


def test_parquet_timestamps_and_nulls(tmp_path: Path) -> None:
    path = tmp_path / "serials.parquet"
    when = datetime(2011, 10, 5, 2, tzinfo=UTC)
    table = pa.table(
        {
            "serial": ["S1", "S2"],
            "sku": ["mi-1", "mi-1"],
            "sold_at": pa.array([when, when], pa.timestamp("ms", tz="UTC")),
            "channel": ["", "online"],
            "region": ["CN", "CN"],
            "activated_at": pa.array(
                [None, datetime(2011, 10, 6, 2, tzinfo=UTC)], pa.timestamp("s", tz="UTC")
            ),
        }
    )
    pq.write_table(table, path)
    (rows,) = list(read_serials(path))
    assert rows == [
        SerialRecord("S1", "mi-1", SOLD, "", "CN", None),
        SerialRecord("S2", "mi-1", SOLD, "online", "CN", ON),
    ]


def test_bad_rows_are_named_and_nothing_is_yielded(tmp_path: Path) -> None:
    path = tmp_path / "serials.csv"
    path.write_text(
        "serial,sku,sold_at,channel,region,activated_at\n"
        "S1,mi-1,2011-10-05T10:00:00+08:00,,CN,yesterday\n"
        "S2,mi-1,2011-10-05,,CN,\n"
        "S3,,2011-10-05T10:00:00+08:00,,XX,\n",
        encoding="utf-8",
    )
    with pytest.raises(BadRowsError) as caught:
        list(read_serials(path))
    messages = [str(e) for e in caught.value.errors]
    assert "row 1" in messages[0] and "activated_at" in messages[0]
    assert "row 2" in messages[1] and "sold_at" in messages[1]
    assert "row 3" in messages[2] and "sku" in messages[2]
