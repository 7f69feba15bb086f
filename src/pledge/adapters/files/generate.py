"""Synthetic, seeded data for scenario A (the founders' refund), at any scale.

The same ``seed`` always gives byte-identical files, and the CSV and Parquet
forms of one seed hold the same rows: every chunk of ``CHUNK_ROWS`` rows draws
from its own ``random.Random`` seeded by (seed, chunk number), so a chunk's
content never depends on the format, on memory, or on what came before.
Rows are produced and written one chunk at a time (CSV through ``csv.writer``,
Parquet as one row group per chunk), so memory stays flat up to the seed's
18.46 million units.

The first purchases are the scenario's edge cases, always present so tests and
the demo can name them (``P000000001`` is the last in-window second, and so on,
see ``_EDGE_CASES``); the rest is a plausible crowd: mostly mainland accounts
buying the mi-1 at 1999.00 CNY inside the window, with discounts, other models,
returns, refunds, resold devices, second purchases, empty serials and people who
bought a few days too late.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from pledge.domain.errors import InputError
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS

CHUNK_ROWS = 100_000

# Window of scenario A in UTC seconds: 2011-09-01T00:00+08:00 .. 2011-12-08T00:00+08:00 (exclusive).
_WINDOW_START = 1_314_806_400
_WINDOW_END = 1_323_273_600
_DAY = 86_400

# Offsets (minutes east of UTC) the crowd writes its instants in, and how often.
_OFFSETS = (480, 0, -300, 540)
_OFFSET_WEIGHTS = (80, 90, 95, 100)
_SUFFIX = {480: "+08:00", 0: "Z", -300: "-05:00", 540: "+09:00"}

_STATUSES = ("completed", "returned", "refunded", "cancelled")
_STATUS_WEIGHTS = (92, 96, 98, 100)
_SKUS = ("mi-1", "mi-1s", "mi-2", "redmi-1")
_SKU_WEIGHTS = (90, 93, 97, 100)
_PRICES = {
    "mi-1": (("1999.00", "1799.00", "1499.00"), (90, 96, 100)),
    "mi-1s": (("1499.00",), (1,)),
    "mi-2": (("1999.00",), (1,)),
    "redmi-1": (("799.00",), (1,)),
}
_CHANNELS = ("mi.com", "china-unicom", "jd.com", "")
_CHANNEL_WEIGHTS = (80, 92, 96, 100)
_REGIONS = ("CN", "HK", "MO", "TW", "US")
_REGION_WEIGHTS = (90, 93, 94, 97, 100)

# When the crowd bought: (first second, length in seconds, cumulative weight).
_PERIODS = (
    (_WINDOW_START, _WINDOW_END - _WINDOW_START, 94),
    (_WINDOW_END, 7 * _DAY, 97),  # near misses: up to a week too late
    (_WINDOW_START - 16 * _DAY, 16 * _DAY, 98),  # before the window opened
    (_WINDOW_END + 30 * _DAY, 150 * _DAY, 100),  # long after
)

# Edge cases: (account index, purchased_at text, sku, price, status, serial key).
# A serial key of None means an empty serial; equal keys mean one device sold twice.
_EDGE_CASES: tuple[tuple[int, str, str, str, str, str | None], ...] = (
    (0, "2011-12-07T23:59:59+08:00", "mi-1", "1999.00", "completed", "e1"),  # last second in
    (1, "2011-12-07T16:30:00Z", "mi-1", "1999.00", "completed", "e2"),  # 00:30 on 12-08 local: out
    (2, "2011-08-31T23:59:59+08:00", "mi-1", "1999.00", "completed", "e3"),  # one second early: out
    (3, "2011-09-01T00:00:00+08:00", "mi-1", "1999.00", "completed", "e4"),  # first second in
    (4, "2011-09-10T10:00:00+08:00", "mi-1", "1999.00", "returned", "e5"),  # returned ...
    (5, "2011-09-20T15:00:00+08:00", "mi-1", "1999.00", "completed", "e5"),  # ... and resold
    (6, "2011-10-01T09:00:00+09:00", "mi-1", "1999.00", "completed", "e7"),  # one device bought
    (7, "2011-10-02T09:00:00-05:00", "mi-1", "1999.00", "completed", "e7"),  # twice, both completed
    (8, "2011-12-09T12:00:00+08:00", "mi-1", "1999.00", "completed", "e9"),  # two days too late
    (9, "2011-10-10T10:00:00+08:00", "mi-1", "1999.00", "completed", "e10"),  # Hong Kong account
    (10, "2011-09-15T12:00:00+08:00", "mi-1", "1999.00", "completed", "e11"),  # one account,
    (10, "2011-11-11T11:11:11+08:00", "mi-1", "1999.00", "completed", "e12"),  # two phones
    (11, "2011-10-20T08:00:00Z", "mi-1", "1999.00", "completed", None),  # no serial
    (12, "2011-11-01T20:00:00+08:00", "mi-1", "1799.00", "completed", "e14"),  # discounted
    (13, "2011-11-02T20:00:00+08:00", "mi-1", "1999.00", "refunded", "e15"),
    (14, "2011-11-03T20:00:00+08:00", "mi-1", "1999.00", "cancelled", "e16"),
)
_EDGE_ACCOUNTS = 15
_EDGE_REGIONS = {9: "HK"}

# Every _PAIR_EVERY-th crowd purchase starts a resale pair, half of them a return then a resale.
_PAIR_EVERY = 250


class GenerateResult(NamedTuple):
    accounts_path: Path
    purchases_path: Path
    accounts: int
    purchases: int


_TIMES_OF_DAY = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(_DAY)]
_DATES: dict[int, str] = {}


def _format(seconds: int, offset_minutes: int) -> str:
    """ISO 8601 with offset, without datetime objects (this runs once per row)."""
    days, second_of_day = divmod(seconds + offset_minutes * 60, _DAY)
    day_text = _DATES.get(days)
    if day_text is None:
        day_text = _DATES[days] = (date(1970, 1, 1) + timedelta(days=days)).isoformat()
    return f"{day_text}T{_TIMES_OF_DAY[second_of_day]}{_SUFFIX[offset_minutes]}"


def _serial(seed: int, index: int) -> str:
    # An IMEI-like 15-digit string; multiplying by a number coprime with 10**13 keeps it unique per index.
    return f"86{(index * 7_919 + seed * 104_729 + 12_345) % 10**13:013d}"


class _Purchase(NamedTuple):
    purchase_id: str
    account_id: str
    sku: str
    serial: str
    seconds: int
    offset: int
    price: str
    status: str
    channel: str


def _account_id(index: int) -> str:
    return f"A{index + 1:07d}"


def _purchase_chunk(seed: int, chunk: int, total: int, accounts: int) -> list[_Purchase]:
    rng = random.Random(f"pledge-generate:{seed}:purchases:{chunk}")
    first = chunk * CHUNK_ROWS
    count = min(CHUNK_ROWS, total - first)
    statuses = rng.choices(_STATUSES, cum_weights=_STATUS_WEIGHTS, k=count)
    skus = rng.choices(_SKUS, cum_weights=_SKU_WEIGHTS, k=count)
    channels = rng.choices(_CHANNELS, cum_weights=_CHANNEL_WEIGHTS, k=count)
    offsets = rng.choices(_OFFSETS, cum_weights=_OFFSET_WEIGHTS, k=count)
    periods = rng.choices(_PERIODS, cum_weights=[p[2] for p in _PERIODS], k=count)
    random_ = rng.random
    rows: list[_Purchase] = []
    edges = len(_EDGE_CASES)
    for n in range(count):
        index = first + n
        pid = f"P{index + 1:09d}"
        if index < edges:
            account, text, sku, price, status, key = _EDGE_CASES[index]
            serial = "" if key is None else _serial(seed, 10**12 + int(key[1:]))
            moment = _parse_edge(text)
            rows.append(
                _Purchase(
                    pid,
                    _account_id(account % accounts),
                    sku,
                    serial,
                    moment[0],
                    moment[1],
                    price,
                    status,
                    channels[n] or "mi.com",
                )
            )
            continue
        slot = index - edges + _EDGE_ACCOUNTS
        account = slot if slot < accounts else int(random_() * accounts)
        sku, status = skus[n], statuses[n]
        prices, weights = _PRICES[sku]
        price = prices[0] if len(prices) == 1 else rng.choices(prices, cum_weights=weights)[0]
        start, length, _ = periods[n]
        seconds = start + int(random_() * length)
        serial = _serial(seed, index)
        phase = index % _PAIR_EVERY
        if phase == 1 and n > 0:
            # Same device as the previous row, sold again later; half the time the first sale was returned.
            previous = rows[-1]
            serial, seconds = previous.serial, previous.seconds + _DAY * (1 + int(random_() * 20))
            status = "completed"
        elif phase == 0 and n + 1 < count and random_() < 0.5:
            status = "returned"
        elif phase != 0 and ((status == "cancelled" and random_() < 0.5) or random_() < 0.003):
            serial = ""
        rows.append(
            _Purchase(pid, _account_id(account), sku, serial, seconds, offsets[n], price, status, channels[n])
        )
    return rows


def _parse_edge(text: str) -> tuple[int, int]:
    """(UTC seconds, offset minutes) of an edge-case instant, keeping the offset it was written in."""
    from pledge.domain.timeutil import parse_instant  # noqa: PLC0415 - only the 16 edge rows need it

    suffix = text[19:]
    offset = next(minutes for minutes, written in _SUFFIX.items() if written == suffix)
    return parse_instant(text) // 1_000_000, offset


def _account_chunk(seed: int, chunk: int, total: int) -> list[tuple[str, str, int, int]]:
    rng = random.Random(f"pledge-generate:{seed}:accounts:{chunk}")
    first = chunk * CHUNK_ROWS
    count = min(CHUNK_ROWS, total - first)
    regions = rng.choices(_REGIONS, cum_weights=_REGION_WEIGHTS, k=count)
    offsets = rng.choices(_OFFSETS, cum_weights=_OFFSET_WEIGHTS, k=count)
    random_ = rng.random
    start = _WINDOW_START - 380 * _DAY  # Xiaomi's forum opened a year before the phone shipped
    rows = []
    for n in range(count):
        index = first + n
        if index < _EDGE_ACCOUNTS:
            region = _EDGE_REGIONS.get(index, "CN")
            seconds = start + index * _DAY
        else:
            region = regions[n]
            seconds = start + int(random_() * (_WINDOW_END - start))
        rows.append((_account_id(index), region, seconds, offsets[n]))
    return rows


def _chunks(total: int) -> range:
    return range((total + CHUNK_ROWS - 1) // CHUNK_ROWS)


def _purchase_chunks(seed: int, purchases: int, accounts: int) -> Iterator[list[_Purchase]]:
    for chunk in _chunks(purchases):
        yield _purchase_chunk(seed, chunk, purchases, accounts)


def _account_chunks(seed: int, accounts: int) -> Iterator[list[tuple[str, str, int, int]]]:
    for chunk in _chunks(accounts):
        yield _account_chunk(seed, chunk, accounts)


def _write_csv(path: Path, header: Sequence[str], rows: Iterator[list[tuple[object, ...]]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for chunk in rows:
            writer.writerows(chunk)


_TEXT = pa.string()
_INSTANT = pa.timestamp("us", tz="UTC")
_PRICE = pa.decimal128(12, 2)
PURCHASE_SCHEMA = pa.schema(
    [
        (name, _INSTANT if name == "purchased_at" else _PRICE if name == "price" else _TEXT)
        for name in PURCHASE_COLUMNS
    ]
)
ACCOUNT_SCHEMA = pa.schema(
    [(name, _INSTANT if name == "registered_at" else _TEXT) for name in ACCOUNT_COLUMNS]
)


def _instants(seconds: Sequence[int]) -> pa.Array[Any]:
    return pa.array([s * 1_000_000 for s in seconds], pa.int64()).cast(_INSTANT)


def _write_parquet(path: Path, schema: pa.Schema, tables: Iterator[pa.Table]) -> None:
    # Parquet timestamps are UTC instants: the offset a row was written in is not kept, its instant is.
    with pq.ParquetWriter(path, schema) as writer:
        for table in tables:
            writer.write_table(table, row_group_size=CHUNK_ROWS)


def _purchase_tables(chunks: Iterator[list[_Purchase]]) -> Iterator[pa.Table]:
    for rows in chunks:
        columns = list(zip(*rows, strict=True))
        arrays = [
            pa.array(columns[0], _TEXT),
            pa.array(columns[1], _TEXT),
            pa.array(columns[2], _TEXT),
            pa.array(columns[3], _TEXT),
            _instants(columns[4]),
            pa.array(columns[6], _TEXT).cast(_PRICE),
            pa.array(["CNY"] * len(rows), _TEXT),
            pa.array(columns[7], _TEXT),
            pa.array(columns[8], _TEXT),
        ]
        yield pa.Table.from_arrays(arrays, schema=PURCHASE_SCHEMA)


def _account_tables(chunks: Iterator[list[tuple[str, str, int, int]]]) -> Iterator[pa.Table]:
    for rows in chunks:
        ids, regions, seconds, _ = zip(*rows, strict=True)
        arrays = [pa.array(ids, _TEXT), pa.array(regions, _TEXT), _instants(seconds)]
        yield pa.Table.from_arrays(arrays, schema=ACCOUNT_SCHEMA)


def generate(
    out_dir: Path,
    *,
    purchases: int,
    seed: int,
    fmt: Literal["csv", "parquet"] = "csv",
    accounts: int | None = None,
) -> GenerateResult:
    """Write ``accounts.<fmt>`` and ``purchases.<fmt>`` into ``out_dir``.

    ``accounts`` defaults to ``purchases / 1.3`` (rounded down), so about a quarter of the
    accounts bought twice.
    """
    if fmt not in ("csv", "parquet"):
        raise InputError(f"format {fmt!r} is not csv or parquet", code="invalid_format", param="format")
    if purchases < 0:
        raise InputError("purchases must be >= 0", param="purchases")
    account_count = max(1, purchases * 10 // 13) if accounts is None else accounts
    if account_count < 1:
        raise InputError("accounts must be >= 1", param="accounts")
    out_dir.mkdir(parents=True, exist_ok=True)
    accounts_path, purchases_path = out_dir / f"accounts.{fmt}", out_dir / f"purchases.{fmt}"
    # Write beside the target and rename, so an interrupted run never leaves a plausible half file.
    partial = accounts_path.with_name(accounts_path.name + ".partial")
    _write_accounts(partial, fmt, seed, account_count)
    os.replace(partial, accounts_path)
    partial = purchases_path.with_name(purchases_path.name + ".partial")
    _write_purchases(partial, fmt, seed, purchases, account_count)
    os.replace(partial, purchases_path)
    return GenerateResult(accounts_path, purchases_path, account_count, purchases)


def _write_accounts(path: Path, fmt: str, seed: int, accounts: int) -> None:
    chunks = _account_chunks(seed, accounts)
    if fmt == "csv":
        _write_csv(path, ACCOUNT_COLUMNS, ([(a, r, _format(s, o)) for a, r, s, o in rows] for rows in chunks))
    else:
        _write_parquet(path, ACCOUNT_SCHEMA, _account_tables(chunks))


def _write_purchases(path: Path, fmt: str, seed: int, purchases: int, accounts: int) -> None:
    chunks = _purchase_chunks(seed, purchases, accounts)
    if fmt == "csv":
        _write_csv(
            path,
            PURCHASE_COLUMNS,
            (
                [
                    (
                        p.purchase_id,
                        p.account_id,
                        p.sku,
                        p.serial,
                        _format(p.seconds, p.offset),
                        p.price,
                        "CNY",
                        p.status,
                        p.channel,
                    )
                    for p in rows
                ]
                for rows in chunks
            ),
        )
    else:
        _write_parquet(path, PURCHASE_SCHEMA, _purchase_tables(chunks))
