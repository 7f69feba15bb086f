"""A tiered campaign on the small scenario A data set, and its hand calculation (ADR 34).

Tiers: ``founders`` (2011-09-01..2011-12-07, the price paid up to 1999.00) and ``just-missed``
(2011-12-08..2011-12-31, a goodwill envelope of 199.90); per account 1, per serial 1. Three
purchases are added to scenario A's: P11 (A-cn-1, 20 Dec: its account already has P01), P12 (A-cn-4,
31 Dec 23:00: its account has nothing yet, P05 lost to S1's limit) and P13 (A-cn-2, 2 Jan 2012: two
days after the last tier).

By hand, in purchase order: founders pays P01 1999.00, P10 1499.00, P03 1799.00 (P02: per account,
P05: per serial) = 3 grants, 5297.00; just-missed pays P04 (8 Dec 00:30 local) 199.90 and P12
199.90 (P11: per account) = 2 grants, 399.80. In all 5 grants, 5696.80. With a budget of 5500.00
the budget binds: P01, P10, P03, P04 fit (5496.90), P12 does not.
"""

from __future__ import annotations

from typing import Any

from pledge.entrypoints.presenters import simulation_json
from pledge.usecases.simulation import Simulation
from tests.support.data import PURCHASES, campaign

TIER_PURCHASES = [
    *PURCHASES,
    ("P11", "A-cn-1", "mi-1", "S11", "2011-12-20T10:00:00+08:00", "1999.00", "completed"),
    ("P12", "A-cn-4", "mi-1", "S12", "2011-12-31T23:00:00+08:00", "1999.00", "completed"),
    ("P13", "A-cn-2", "mi-1", "S13", "2012-01-02T10:00:00+08:00", "1999.00", "completed"),
]

TIERS = [
    {
        "id": "founders",
        "purchased": {"from": "2011-09-01", "to": "2011-12-07"},
        "amount": "price_paid",
        "max_amount": "1999.00",
    },
    {"id": "just-missed", "purchased": {"from": "2011-12-08", "to": "2011-12-31"}, "amount": "199.90"},
]

EXPECTED_TIER_GRANTS = {
    "P01": (199_900, "founders"),
    "P03": (179_900, "founders"),
    "P10": (149_900, "founders"),
    "P04": (19_990, "just-missed"),
    "P12": (19_990, "just-missed"),
}


def tiered_campaign(**changes: Any) -> dict[str, Any]:
    doc = campaign(**changes)
    del doc["qualify"]["purchased"]  # the tiers' span
    doc["benefit"] = {"kind": "cashback"}
    doc["tiers"] = [dict(t) for t in TIERS]
    return doc


def check_simulation(dry_run: Simulation) -> None:
    """The dry run, as the hand calculation says (in its JSON, where the amounts are people's)."""
    sim = simulation_json(dry_run)
    assert sim["evaluated"] == len(TIER_PURCHASES)
    assert sim["qualifying"] == 8  # P01 P02 P03 P04 P05 P10 P11 P12
    assert (sim["grants"], sim["amount"]) == (5, "5696.80")
    assert sim["tiers"] == {
        "founders": {"grants": 3, "amount": "5297.00", "from": "2011-09-01", "to": "2011-12-07"},
        "just-missed": {"grants": 2, "amount": "399.80", "from": "2011-12-08", "to": "2011-12-31"},
    }
    assert sim["limits"] == {"per_account": 2, "per_serial": 1}  # P02, P11; P05
    assert sim["rejections"]["purchased"] == 2  # P09 (31 Aug), P13 (2 Jan)
    near = {m["purchase_id"]: (m["condition"], m["distance_days"]) for m in sim["near_misses"]}
    assert near["P13"] == ("purchased", 2), "measured to the nearest tier, not to the first tier's end"
    assert "P04" not in near, "8 Dec is inside the just-missed tier"
    assert not sim["blocking"]


def check_binding_budget(dry_run: Simulation) -> None:
    """Budget 5500.00: the ordered pass decides; P12 meets an empty budget."""
    sim = simulation_json(dry_run)
    assert (sim["grants"], sim["amount"], sim["budget_exhausted"]) == (4, "5496.90", 1)
    assert {t: (v["grants"], v["amount"]) for t, v in sim["tiers"].items()} == {
        "founders": (3, "5297.00"),
        "just-missed": (1, "199.90"),
    }
