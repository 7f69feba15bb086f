"""The ``region_changed`` flag on the memory fakes (ADR 28): an import that gives an account another
region keeps the change, and a claim by an account that moved after its campaign was launched is
flagged for review, never rejected for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from pledge.adapters.evidence.processing import ImageEvidenceProcessor
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.memory.claims import MemoryEvidenceStore
from pledge.domain.claims import Claim, ClaimState, Flag, region_changed
from pledge.domain.errors import InputError
from pledge.domain.records import AccountRecord, RegionChange
from pledge.domain.serials import SerialRecord
from pledge.domain.timeutil import US_PER_SECOND, parse_instant, zone
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.claims import ClaimDesk, ClaimRequest
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases
from pledge.usecases.ports import UnitOfWorkFactory
from pledge.usecases.serials import import_serials
from tests.support.data import ACCOUNTS, campaign
from tests.support.images import receipt
from tests.unit.test_usecases import CID, NOW, account_records, purchase_records, rules

SOLD = parse_instant("2011-10-05T10:00:00+08:00")
SHANGHAI = zone("Asia/Shanghai")
HOUR = 3600 * US_PER_SECOND


@dataclass
class Clock:
    instant_us: int = NOW

    def now_us(self) -> int:
        return self.instant_us


def moved(accounts: dict[str, str]) -> list[AccountRecord]:
    """Every account of the test data, with the regions in ``accounts`` instead of its own."""
    return [r._replace(region=accounts.get(r.account_id, r.region)) for r in account_records(ACCOUNTS)]


def update(uow: UnitOfWorkFactory, clock: Clock, rows: list[AccountRecord]) -> ImportResult:
    return import_accounts(uow, [rows], update=True, corrector=Corrector(rules, clock, "ops"))


def claim(desk: ClaimDesk, account: str, serial: str, seed: str) -> Claim:
    photo = receipt(seed, size=(100 + 40 * int(serial[1:]) % 300, 200))
    request = ClaimRequest(CID, account, serial, "2011-10-05T10:00:00+08:00", "300.00", [("r.jpg", photo)])
    return desk.submit(request, "cs.liu")


def region_flags(claim: Claim) -> list[Flag]:
    return [f for f in claim.flags if f.name == "region_changed"]


def test_an_account_moved_after_the_launch_is_flagged_and_one_moved_before_is_not() -> None:
    store, clock = MemoryStore(), Clock(NOW - 2 * HOUR)
    uow = memory_uow_factory(store)
    import_accounts(uow, [account_records()])
    import_purchases(uow, [purchase_records()])
    serials = [SerialRecord(f"S{n}", "mi-1", SOLD, "reseller", "CN", None) for n in range(20, 24)]
    import_serials(uow, [serials])
    # Before the announcement: Taiwan's account moves to the mainland (ordinary upkeep).
    assert update(uow, clock, moved({"A-tw-1": "CN"})).updated == 1
    clock.instant_us = NOW
    apply_campaign(uow, rules, clock, campaign(claims={"open_until": "2022-06-30"}), "ops")
    approve_campaign(uow, rules, clock, CID, "finance")
    launch_campaign(uow, rules, clock, CID, "finance")
    # After it: Hong Kong's account moves to the mainland, the region the campaign pays; a contact
    # change on another account is a changed row that moves nobody.
    clock.instant_us = NOW + HOUR + 654_321
    rows = moved({"A-tw-1": "CN", "A-hk-1": "CN"})
    rows = [r._replace(email="li@example.com") if r.account_id == "A-cn-3" else r for r in rows]
    assert update(uow, clock, rows).updated == 2
    assert [(c.account_id, c.old_region, c.new_region) for c in store.region_changes] == [
        ("A-tw-1", "TW", "CN"),
        ("A-hk-1", "HK", "CN"),
    ]
    clock.instant_us = NOW + 2 * HOUR
    desk = ClaimDesk(uow, rules, clock, ImageEvidenceProcessor(), MemoryEvidenceStore())
    hk = claim(desk, "A-hk-1", "S20", "hk")
    assert hk.state is ClaimState.PENDING  # a flag asks for a look; every check passed
    assert region_flags(hk) == [
        Flag(
            "region_changed",
            "account A-hk-1 moved from HK to CN on 2021-08-10T13:00:00+08:00, after the "
            "campaign was launched on 2021-08-10T12:00:00+08:00",
        )
    ]
    assert region_flags(claim(desk, "A-tw-1", "S21", "tw")) == []  # moved before the announcement
    assert region_flags(claim(desk, "A-cn-3", "S22", "cn")) == []  # changed, but not its region


def test_a_failed_update_keeps_no_region_change() -> None:
    store, clock = MemoryStore(), Clock()
    uow = memory_uow_factory(store)
    import_accounts(uow, [account_records()])

    def batches() -> Iterator[Sequence[AccountRecord]]:
        yield moved({"A-hk-1": "CN"})
        raise InputError("accounts: row 9, region: 'xx' is not a region", param="region")

    with pytest.raises(InputError):
        import_accounts(uow, batches(), update=True, corrector=Corrector(rules, clock))
    assert store.region_changes == [] and store.accounts["A-hk-1"].region == "HK"


def test_the_detail_names_the_route_of_an_account_moved_many_times() -> None:
    launched = NOW
    changes = [
        RegionChange("A-1", old, new, launched + n * HOUR + 17)
        for n, (old, new) in enumerate(
            [("US", "HK"), ("HK", "SG"), ("SG", "JP"), ("JP", "KR"), ("KR", "CN"), ("CN", "MO")]
        )
    ]
    assert region_changed("A-1", [], launched, SHANGHAI) is None
    flag = region_changed("A-1", changes[:2], launched, SHANGHAI)
    assert flag is not None and flag.detail == (
        "account A-1 moved from US to SG after the campaign was launched on 2021-08-10T12:00:00+08:00: "
        "2 changes (US, HK, SG), the last on 2021-08-10T13:00:00+08:00"
    )
    many = region_changed("A-1", changes, launched, SHANGHAI)
    assert (
        many is not None
        and "6 changes (US, HK, SG, JP, ..., MO), the last on 2021-08-10T17:00:00+08:00" in (many.detail)
    )
