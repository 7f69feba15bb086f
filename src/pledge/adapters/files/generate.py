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

import bisect
import csv
import itertools
import os
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from pledge.domain.errors import InputError
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS
from pledge.domain.timeutil import parse_instant

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

# Every _PAIR_EVERY-th crowd purchase starts a resale pair (CHUNK_ROWS must be a multiple of it).
_PAIR_EVERY = 250


class GenerateResult(NamedTuple):
    accounts_path: Path
    purchases_path: Path
    accounts: int
    purchases: int


class _Purchases(NamedTuple):
    """One chunk of purchases, column by column (instants as UTC seconds plus the offset to write)."""

    ids: list[str]
    account_ids: list[str]
    skus: list[str]
    serials: list[str]
    seconds: list[int]
    offsets: list[int]
    prices: list[str]
    statuses: list[str]
    channels: list[str]


class _Accounts(NamedTuple):
    ids: list[str]
    regions: list[str]
    seconds: list[int]
    offsets: list[int]


_T = TypeVar("_T")


def _table(options: Sequence[_T], cum_weights: Sequence[int]) -> list[_T]:
    """256 entries with each option in proportion to its weight, to be indexed by a random byte.

    ``rng.randbytes`` draws a whole chunk's choices in one call, several times faster than
    ``rng.choices``; a 1/256 granularity is plenty for a synthetic crowd.
    """
    total = cum_weights[-1]
    return [options[bisect.bisect_right(cum_weights, byte * total / 256)] for byte in range(256)]


def _draw(rng: random.Random, table: Sequence[_T], count: int) -> list[_T]:
    return [table[byte] for byte in rng.randbytes(count)]


_STATUS_TABLE = _table(_STATUSES, _STATUS_WEIGHTS)
_SKU_TABLE = _table(_SKUS, _SKU_WEIGHTS)
_CHANNEL_TABLE = _table(_CHANNELS, _CHANNEL_WEIGHTS)
_OFFSET_TABLE = _table(_OFFSETS, _OFFSET_WEIGHTS)
_REGION_TABLE = _table(_REGIONS, _REGION_WEIGHTS)
_PERIOD_TABLE = _table(_PERIODS, [period[2] for period in _PERIODS])
_MI1_PRICE_TABLE = _table(*_PRICES["mi-1"])

_TIMES_OF_DAY = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(_DAY)]
_DATES: dict[int, str] = {}
_FIXED_PRICES = {sku: prices[0] for sku, (prices, _) in _PRICES.items()}


def _texts(seconds: Sequence[int], offsets: Sequence[int]) -> list[str]:
    """ISO 8601 with offset for each instant, without datetime objects (this runs once per row)."""
    out = []
    for second, offset in zip(seconds, offsets, strict=True):
        days, second_of_day = divmod(second + offset * 60, _DAY)
        day_text = _DATES.get(days)
        if day_text is None:
            day_text = _DATES[days] = (date(1970, 1, 1) + timedelta(days=days)).isoformat()
        out.append(f"{day_text}T{_TIMES_OF_DAY[second_of_day]}{_SUFFIX[offset]}")
    return out


def _serials(seed: int, first: int, stop: int) -> list[str]:
    # IMEI-like 15 digits; multiplying by a number coprime with 10**13 keeps them unique per index.
    shift = seed * 104_729 + 12_345
    return [f"86{(index * 7_919 + shift) % 10**13:013d}" for index in range(first, stop)]


def _edge_instant(text: str) -> tuple[int, int]:
    """(UTC seconds, offset minutes) of an edge-case instant, keeping the offset it was written in."""
    offset = next(minutes for minutes, written in _SUFFIX.items() if written == text[19:])
    return parse_instant(text) // 1_000_000, offset


def _purchase_chunk(seed: int, chunk: int, total: int, accounts: int) -> _Purchases:
    rng = random.Random(f"pledge-generate:{seed}:purchases:{chunk}")
    random_ = rng.random
    first = chunk * CHUNK_ROWS
    count = min(CHUNK_ROWS, total - first)
    statuses = _draw(rng, _STATUS_TABLE, count)
    skus = _draw(rng, _SKU_TABLE, count)
    channels = _draw(rng, _CHANNEL_TABLE, count)
    offsets = _draw(rng, _OFFSET_TABLE, count)
    periods = _draw(rng, _PERIOD_TABLE, count)
    mi1_prices = _draw(rng, _MI1_PRICE_TABLE, count)
    seconds = [start + int(random_() * length) for start, length, _ in periods]
    prices = [mi1 if sku == "mi-1" else _FIXED_PRICES[sku] for sku, mi1 in zip(skus, mi1_prices, strict=True)]
    # Every account gets one purchase in id order; purchases beyond that go to random accounts,
    # which is how about a quarter of the accounts end up with two (the per_account limit's case).
    slot = first - len(_EDGE_CASES) + _EDGE_ACCOUNTS
    owners = [s if s < accounts else int(random_() * accounts) for s in range(slot, slot + count)]
    serials = _serials(seed, first, first + count)
    for n in [n for n, status in enumerate(statuses) if status == "cancelled"]:
        if random_() < 0.5:  # a cancelled order often never had a device assigned
            serials[n] = ""
    for n in rng.sample(range(count), count * 3 // 1000):
        serials[n] = ""
    # Resold devices: every _PAIR_EVERY-th purchase is sold again a few days later to someone else;
    # half the time the first buyer returned it, otherwise both sales completed.
    # Chunks are a multiple of _PAIR_EVERY long, so a pair never straddles two chunks.
    for n in range(0, count - 1, _PAIR_EVERY):
        serials[n] = serials[n + 1] = _serials(seed, first + n, first + n + 1)[0]
        seconds[n + 1] = seconds[n] + _DAY * (1 + int(random_() * 20))
        skus[n + 1], statuses[n + 1] = skus[n], "completed"
        statuses[n] = "returned" if random_() < 0.5 else "completed"
    # The named edge cases are the first purchases of the file.
    for n, (owner, text, sku, price, status, key) in enumerate(_EDGE_CASES[:count] if first == 0 else ()):
        owners[n] = owner % accounts
        seconds[n], offsets[n] = _edge_instant(text)
        skus[n], prices[n], statuses[n], channels[n] = sku, price, status, "mi.com"
        serials[n] = (
            "" if key is None else _serials(seed, 10**12 + int(key[1:]), 10**12 + int(key[1:]) + 1)[0]
        )
    return _Purchases(
        [f"P{index:09d}" for index in range(first + 1, first + count + 1)],
        [f"A{owner + 1:07d}" for owner in owners],
        skus,
        serials,
        seconds,
        offsets,
        prices,
        statuses,
        channels,
    )


def _account_chunk(seed: int, chunk: int, total: int) -> _Accounts:
    rng = random.Random(f"pledge-generate:{seed}:accounts:{chunk}")
    random_ = rng.random
    first = chunk * CHUNK_ROWS
    count = min(CHUNK_ROWS, total - first)
    regions = _draw(rng, _REGION_TABLE, count)
    offsets = _draw(rng, _OFFSET_TABLE, count)
    start = _WINDOW_START - 380 * _DAY  # the MIUI forum had users a year before the phone shipped
    seconds = [start + int(random_() * (_WINDOW_END - start)) for _ in range(count)]
    for n in range(min(count, _EDGE_ACCOUNTS - first)):
        regions[n] = _EDGE_REGIONS.get(n, "CN")
        seconds[n] = start + n * _DAY
    return _Accounts(
        [f"A{index:07d}" for index in range(first + 1, first + count + 1)], regions, seconds, offsets
    )


def _chunks(total: int) -> range:
    return range((total + CHUNK_ROWS - 1) // CHUNK_ROWS)


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
    return pa.array(seconds, pa.int64()).cast(pa.timestamp("s", tz="UTC")).cast(_INSTANT)


def _write_purchases(path: Path, fmt: str, seed: int, purchases: int, accounts: int) -> None:
    chunks = (_purchase_chunk(seed, chunk, purchases, accounts) for chunk in _chunks(purchases))
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(PURCHASE_COLUMNS)
            for c in chunks:
                texts = _texts(c.seconds, c.offsets)
                currency = itertools.repeat("CNY", len(c.ids))
                writer.writerows(
                    zip(
                        c.ids,
                        c.account_ids,
                        c.skus,
                        c.serials,
                        texts,
                        c.prices,
                        currency,
                        c.statuses,
                        c.channels,
                        strict=True,
                    )
                )
        return
    # Parquet timestamps are UTC instants: the offset a row was written in is not kept, its instant is.
    with pq.ParquetWriter(path, PURCHASE_SCHEMA) as parquet:
        for c in chunks:
            arrays = [
                pa.array(c.ids, _TEXT),
                pa.array(c.account_ids, _TEXT),
                pa.array(c.skus, _TEXT),
                pa.array(c.serials, _TEXT),
                _instants(c.seconds),
                pa.array(c.prices, _TEXT).cast(_PRICE),
                pa.array(itertools.repeat("CNY", len(c.ids)), _TEXT, size=len(c.ids)),
                pa.array(c.statuses, _TEXT),
                pa.array(c.channels, _TEXT),
            ]
            parquet.write_table(
                pa.Table.from_arrays(arrays, schema=PURCHASE_SCHEMA), row_group_size=CHUNK_ROWS
            )


def _write_accounts(path: Path, fmt: str, seed: int, accounts: int) -> None:
    chunks = (_account_chunk(seed, chunk, accounts) for chunk in _chunks(accounts))
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(ACCOUNT_COLUMNS)
            for c in chunks:
                writer.writerows(zip(c.ids, c.regions, _texts(c.seconds, c.offsets), strict=True))
        return
    with pq.ParquetWriter(path, ACCOUNT_SCHEMA) as parquet:
        for c in chunks:
            arrays = [pa.array(c.ids, _TEXT), pa.array(c.regions, _TEXT), _instants(c.seconds)]
            parquet.write_table(
                pa.Table.from_arrays(arrays, schema=ACCOUNT_SCHEMA), row_group_size=CHUNK_ROWS
            )


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
