"""Small, readable data sets for scenario A tests, written as the files users import."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS

ACCOUNTS = [
    ("A-cn-1", "CN", "2011-01-01T00:00:00+08:00"),
    ("A-cn-2", "CN", "2011-01-01T00:00:00+08:00"),
    ("A-cn-3", "CN", "2011-01-01T00:00:00+08:00"),
    ("A-cn-4", "CN", "2011-01-01T00:00:00+08:00"),
    ("A-cn-5", "CN", "2011-01-01T00:00:00+08:00"),
    ("A-hk-1", "HK", "2011-01-01T00:00:00+08:00"),
    ("A-tw-1", "TW", "2011-01-01T00:00:00+08:00"),
]

# purchase_id, account, sku, serial, purchased_at, price, status
PURCHASES = [
    ("P01", "A-cn-1", "mi-1", "S1", "2011-09-01T00:00:00+08:00", "1999.00", "completed"),  # first instant: in
    ("P02", "A-cn-1", "mi-1", "S2", "2011-10-01T10:00:00+08:00", "1999.00", "completed"),  # per_account
    ("P03", "A-cn-2", "mi-1", "S3", "2011-12-07T23:59:59+08:00", "1799.00", "completed"),  # last second: in
    (
        "P04",
        "A-cn-3",
        "mi-1",
        "S4",
        "2011-12-07T16:30:00Z",
        "1999.00",
        "completed",
    ),  # 00:30 Dec 8: out, 1 day
    (
        "P05",
        "A-cn-4",
        "mi-1",
        "S1",
        "2011-11-01T10:00:00+08:00",
        "1999.00",
        "completed",
    ),  # resold S1: per_serial
    ("P06", "A-hk-1", "mi-1", "S6", "2011-10-01T10:00:00+08:00", "1999.00", "completed"),  # HK: region
    ("P07", "A-cn-5", "mi-1", "S7", "2011-10-02T10:00:00+08:00", "1999.00", "returned"),  # status
    ("P08", "A-cn-5", "mi-2", "S8", "2011-10-03T10:00:00+08:00", "1999.00", "completed"),  # sku
    ("P09", "A-tw-1", "mi-1", "S9", "2011-08-31T15:59:59Z", "1999.00", "completed"),  # TW and 1 day early
    ("P10", "A-cn-5", "mi-1", "", "2011-11-11T11:11:11+08:00", "1499.00", "completed"),  # no serial: in
]

CAMPAIGN: dict[str, Any] = {
    "id": "founders-refund",
    "name": "Founders' full refund",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "qualify": {
        "purchased": {"from": "2011-09-01", "to": "2011-12-07"},
        "rule": 'purchase.sku == "mi-1" && account.region == "CN" && purchase.status == "completed"',
    },
    "benefit": {"kind": "cashback", "amount": "price_paid", "max_amount": "1999.00"},
    "payout": {"channel": "red_envelope", "claim_within": "30d"},
    "limits": {"per_account": 1, "per_serial": 1},
    "budget": "50000000.00",
}

# P01 (1999), P03 (1799), P10 (1499) qualify after limits: 5297.00.
EXPECTED_GRANTS = {"P01": 199900, "P03": 179900, "P10": 149900}


def campaign(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(CAMPAIGN)
    doc.update(changes)
    return doc


def write_files(folder: Path, purchases: list[tuple[str, ...]] | None = None) -> tuple[Path, Path]:
    accounts_path, purchases_path = folder / "accounts.csv", folder / "purchases.csv"
    with accounts_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ACCOUNT_COLUMNS)
        writer.writerows(ACCOUNTS)
    with purchases_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PURCHASE_COLUMNS)
        for pid, account, sku, serial, at, price, status in purchases or PURCHASES:
            writer.writerow([pid, account, sku, serial, at, price, "CNY", status, "online"])
    return accounts_path, purchases_path
