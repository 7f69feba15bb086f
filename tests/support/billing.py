"""Scenario B (the cloud Double 11, seed 002) as the files users write, shared by every test level.

One definition of the plans and of the two offer terms versions (PRODUCT.md,
"Scenario B"), as Python documents and as the YAML/CSV files the CLI reads,
plus the worked example's expected numbers.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import yaml

from pledge.domain.records import ACCOUNT_COLUMNS, AccountRecord
from pledge.domain.timeutil import parse_instant

CAMPAIGN_ID = "cloud-double-11"
TZ = "Asia/Shanghai"
GOLD, PLATINUM, DIAMOND = "cloud-gold-50gb", "cloud-platinum-200gb", "cloud-diamond-2tb"
PLAN_IDS = (GOLD, PLATINUM, DIAMOND)

PLANS: dict[str, Any] = {
    "currency": "CNY",
    "plans": [
        {"id": GOLD, "name": "Gold 50 GB", "list_price": "72.00", "period": "12 months"},
        {"id": PLATINUM, "name": "Platinum 200 GB", "list_price": "252.00", "period": "12 months"},
        {"id": DIAMOND, "name": "Diamond 2 TB", "list_price": "816.00", "period": "12 months"},
    ],
}
LIST_PRICES = {GOLD: "72.00", PLATINUM: "252.00", DIAMOND: "816.00"}
CAMPAIGN_PRICES = {GOLD: "29.00", PLATINUM: "109.00", DIAMOND: "239.00"}

# A one-month plan outside the campaign, for month-end renewals (Jan 31 -> Feb 28/29 -> Mar 31).
MONTHLY = "cloud-monthly-10gb"
MONTHLY_PLAN: dict[str, Any] = {
    "id": MONTHLY,
    "name": "Monthly 10 GB",
    "list_price": "10.00",
    "period": "1 month",
}

V1_EFFECTIVE = "2023-10-31T00:00:00+08:00"
V2_EFFECTIVE = "2023-11-03T12:00:00+08:00"
SALE = {"from": "2023-10-31", "to": "2023-11-11"}

OFFER_V1: dict[str, Any] = {
    "id": CAMPAIGN_ID,
    "name": "Cloud Double 11",
    "kind": "offer",
    "timezone": TZ,
    "currency": "CNY",
    "applies_to": list(PLAN_IDS),
    "sale": dict(SALE),
    "renewal": {"price": "list", "auto_renew": "opt_in"},
    "terms": {"effective": V1_EFFECTIVE, "offer": {"type": "bonus_period", "bonus": "6 months"}},
}
OFFER_V2: dict[str, Any] = {
    **OFFER_V1,
    "terms": {
        "effective": V2_EFFECTIVE,
        "offer": {"type": "intro_price", "prices": dict(CAMPAIGN_PRICES)},
        "compensation": {"policy": "rate_parity"},
    },
}

# Customers: one per plan for the worked example, and spares for the rest of the flow.
ACCOUNTS = [(f"U{n:02d}", "CN", "2020-01-01T00:00:00+08:00") for n in range(1, 13)]

# The worked example: bought 2023-11-01 10:00 Shanghai under v1, compensated towards v2.
BUY_AT = "2023-11-01T10:00:00+08:00"
V1_ENDS_AT = "2025-05-01T10:00:00+08:00"  # 12 + 6 months: T_old = 547 days
EXTRA_DAYS = {GOLD: 362, PLATINUM: 300, DIAMOND: 703}
NEW_ENDS_AT = {
    GOLD: "2026-04-28T10:00:00+08:00",
    PLATINUM: "2026-02-25T10:00:00+08:00",  # PRODUCT.md: "new end 2026-02-25"
    DIAMOND: "2027-04-04T10:00:00+08:00",
}


def plans(*extra: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The plans document, with ``extra`` plans appended and top-level fields changed."""
    doc = copy.deepcopy(PLANS)
    doc["plans"].extend(copy.deepcopy(list(extra)))
    doc.update(changes)
    return doc


def offer(version: int = 1, **changes: Any) -> dict[str, Any]:
    """Terms version 1 (6 months free) or 2 (campaign prices, rate parity), with fields changed."""
    doc = copy.deepcopy(OFFER_V1 if version == 1 else OFFER_V2)
    doc.update(copy.deepcopy(changes))
    return doc


def us(instant: str) -> int:
    return parse_instant(instant)


def account_records(rows: list[tuple[str, str, str]] | None = None) -> list[AccountRecord]:
    return [AccountRecord(a, region, us(at)) for a, region, at in rows or ACCOUNTS]


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_accounts(folder: Path, rows: list[tuple[str, str, str]] | None = None) -> Path:
    path = folder / "accounts.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ACCOUNT_COLUMNS)
        writer.writerows(rows or ACCOUNTS)
    return path


def write_files(folder: Path) -> dict[str, Path]:
    """accounts.csv, plans.yaml, offer-v1.yaml and offer-v2.yaml in ``folder``."""
    return {
        "accounts": write_accounts(folder),
        "plans": write_yaml(folder / "plans.yaml", plans()),
        "v1": write_yaml(folder / "offer-v1.yaml", offer(1)),
        "v2": write_yaml(folder / "offer-v2.yaml", offer(2)),
    }
