"""Payout plans, dispatch and sync on the in-memory fakes, against the fake wallet on loopback (ADR 24):
every cent through the ledger, a lost answer never guessed, a credit never applied twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.payouts.config import wallet_config
from pledge.adapters.payouts.wallet import WalletRail
from pledge.domain.errors import InputError
from pledge.domain.ledger import (
    ChainVerifier,
    customer_account,
    payouts_in_transit_account,
    payouts_paid_account,
)
from pledge.domain.payout_transfers import TransferState
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.payouts_json import payouts_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.common import Page
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.payout_listing import list_payouts
from pledge.usecases.payout_ports import PayoutRail
from pledge.usecases.payouts import run_payouts, sync_payouts
from pledge.usecases.report import campaign_report
from tests.fakes.driving import CLIENT_TIMEOUT_S
from tests.fakes.loopback import serving
from tests.fakes.wallet_server import WalletHandler, WalletProvider
from tests.unit.test_usecases import (
    CID,
    CLOCK,
    Clock,
    World,
    account_records,
    grants_by_purchase,
    launch,
    purchase_records,
    rules,
)

SECRET = "wallet-secret"
DAY_US = 86_400_000_000
SPLIT = {"max_per_transfer": "200.00", "max_per_account_day": "1000.00", "max_count_per_account_day": 10}


@dataclasses.dataclass
class Wallet:
    provider: WalletProvider
    rails: Any  # the rail factory handed to the use cases


@pytest.fixture
def wallet() -> Iterator[Wallet]:
    provider = WalletProvider(secret=SECRET.encode(), hang_s=CLIENT_TIMEOUT_S * 3)
    with serving(WalletHandler, provider) as url:
        config = wallet_config({"PLEDGE_WALLET_URL": url, "PLEDGE_WALLET_SECRET": SECRET})

        def rails(name: str) -> PayoutRail:
            assert name == "wallet"
            return WalletRail(config, timeout_s=CLIENT_TIMEOUT_S)

        yield Wallet(provider, rails)


def _world(**campaign_changes: Any) -> World:
    store = MemoryStore()
    world = World(store, memory_uow_factory(store))
    import_accounts(world.uow, [account_records()])
    import_purchases(world.uow, [purchase_records()])
    launch(world, **campaign_changes)
    run_campaign(world.uow, rules, CLOCK, CID, "ops")
    return world


def _claim(world: World, *purchase_ids: str) -> dict[str, str]:
    grants = grants_by_purchase(world)
    for pid in purchase_ids:
        claim_grant(world.uow, CLOCK, grants[pid]["id"])
    return {pid: grants[pid]["id"] for pid in purchase_ids}


def _balance(world: World, account: str) -> int:
    verifier = ChainVerifier()
    for entry in sorted(world.store.ledger, key=lambda e: e.seq):
        verifier.feed(entry)
    return verifier.balance(account, "CNY")


def _states(world: World) -> dict[str, str]:
    return {t.id: t.transfer.state for t in list_payouts(world.uow).rows}


def test_claimed_grants_are_planned_sent_and_booked_paid(wallet: Wallet) -> None:
    world = _world()
    ids = _claim(world, "P01", "P03")
    counts = run_payouts(world.uow, CLOCK, wallet.rails)
    assert counts == {
        "planned": 2,
        "submitted": 0,
        "succeeded": 2,
        "failed": 0,
        "unknown": 0,
        "waiting_user": 0,
        "deferred": 0,
    }
    assert wallet.provider.balance_minor("A-cn-1") == 199_900
    assert wallet.provider.balance_minor("A-cn-2") == 179_900
    (listed,) = list_payouts(world.uow, grant_id=ids["P01"]).rows
    assert (listed.id, listed.attempts) == (f"{ids['P01']}/001", 1)
    assert (listed.transfer.amount_minor, listed.transfer.state, listed.transfer.due_on) == (
        199_900,
        "succeeded",
        date(2021, 8, 10),
    )
    (shown,) = payouts_json(list_payouts(world.uow, grant_id=ids["P01"]))["data"]
    assert (shown["amount"], shown["currency"], shown["due_on"]) == ("1999.00", "CNY", "2021-08-10")
    assert _balance(world, payouts_paid_account("wallet")) == 199_900 + 179_900
    assert _balance(world, payouts_in_transit_account("wallet")) == 0
    assert _balance(world, customer_account("A-cn-1")) == 0  # claimed, then paid out
    assert verify_ledger(world.uow).ok
    again = run_payouts(world.uow, CLOCK, wallet.rails)  # nothing new: nothing planned or sent again
    assert (again["planned"], again["succeeded"]) == (0, 0)
    assert sync_payouts(world.uow, CLOCK, wallet.rails)["succeeded"] == 0
    assert sum(wallet.provider.applied.values()) == 2


@pytest.mark.parametrize("fault", ["apply_then_503", "apply_then_hang", "503"])
def test_a_lost_answer_is_unknown_until_sync_asks_and_pays_once(wallet: Wallet, fault: str) -> None:
    world = _world()
    (grant,) = _claim(world, "P01").values()
    wallet.provider.post_faults.append(fault)
    counts = run_payouts(world.uow, CLOCK, wallet.rails)
    assert (counts["unknown"], counts["succeeded"]) == (1, 0)
    (transfer,) = (t.transfer for t in list_payouts(world.uow).rows)
    assert transfer.state == "unknown" and transfer.reason
    assert _balance(world, payouts_in_transit_account("wallet")) == 199_900  # sent, not known paid
    assert verify_ledger(world.uow).ok
    assert run_payouts(world.uow, CLOCK, wallet.rails)["unknown"] == 0  # run never resends it
    synced = sync_payouts(world.uow, CLOCK, wallet.rails)
    assert (synced["succeeded"], synced["unknown"]) == (1, 0)
    (credit_id,) = wallet.provider.credits
    assert wallet.provider.applied[credit_id] == 1 and credit_id == transfer.request_id
    assert wallet.provider.balance_minor("A-cn-1") == 199_900
    (paid,) = list_payouts(world.uow, grant_id=grant).rows
    assert (paid.transfer.state, paid.transfer.attempt) == ("succeeded", 1)  # the same request id throughout
    assert paid.attempts == (2 if fault == "503" else 1)  # resent only when never applied
    assert _balance(world, payouts_paid_account("wallet")) == 199_900
    assert verify_ledger(world.uow).ok


def test_a_refused_credit_is_failed_and_its_money_booked_back(wallet: Wallet) -> None:
    world = _world()
    _claim(world, "P01")
    wallet.provider.max_per_account_day = 100_000  # the wallet refuses 1999.00 with a 422
    counts = run_payouts(world.uow, CLOCK, wallet.rails)
    assert counts["failed"] == 1
    (failed,) = list_payouts(world.uow, state="failed").rows
    assert failed.transfer.reason == "daily_limit_exceeded"
    assert _balance(world, customer_account("A-cn-1")) == 199_900  # the customer's again
    assert _balance(world, payouts_in_transit_account("wallet")) == 0
    assert verify_ledger(world.uow).ok
    assert sync_payouts(world.uow, CLOCK, wallet.rails)["failed"] == 0  # final: not asked again


def test_a_split_grant_is_paid_over_its_days_and_max_bounds_a_run(wallet: Wallet) -> None:
    world = _world(payout={"channel": "red_envelope", "claim_within": "30d", "split": SPLIT})
    ids = _claim(world, "P01", "P03")
    first = run_payouts(world.uow, CLOCK, wallet.rails, max_transfers=3)
    assert (first["planned"], first["succeeded"]) == (2, 3)
    p01 = [t.transfer for t in list_payouts(world.uow, grant_id=ids["P01"]).rows]
    assert [t.amount_minor for t in p01] == [19_990] * 10
    assert [t.due_on for t in p01] == [date(2021, 8, 10)] * 5 + [date(2021, 8, 11)] * 5
    today = run_payouts(world.uow, CLOCK, wallet.rails)
    # P01's first day (5) and P03's first day (1799.00 = 899.50 a day, 5 parts): 10 - 3 already sent
    assert (today["succeeded"], today["deferred"]) == (7, 0)
    assert wallet.provider.balance_minor("A-cn-1") == 99_950
    tomorrow = run_payouts(world.uow, Clock(CLOCK.instant_us + DAY_US), wallet.rails)
    assert tomorrow["succeeded"] == 10
    assert wallet.provider.balance_minor("A-cn-1") == 199_900
    assert wallet.provider.balance_minor("A-cn-2") == 179_900
    assert set(_states(world).values()) == {"succeeded"}
    assert verify_ledger(world.uow).ok


def test_an_account_with_no_room_today_is_deferred(wallet: Wallet) -> None:
    # Two grants of one account, each within its own plan, would exceed 1000.00 a day together.
    world = _world(
        payout={"channel": "red_envelope", "claim_within": "30d", "split": SPLIT},
        limits={"per_account": 2, "per_serial": 1},
    )
    _claim(world, "P01", "P02")  # both A-cn-1
    counts = run_payouts(world.uow, CLOCK, wallet.rails)
    assert (counts["succeeded"], counts["deferred"]) == (5, 5)  # 999.50 sent; the other day waits
    assert wallet.provider.balance_minor("A-cn-1") == 99_950
    assert verify_ledger(world.uow).ok


def test_ledger_verify_finds_a_transfer_the_books_do_not_carry(wallet: Wallet) -> None:
    world = _world()
    _claim(world, "P01", "P03")
    run_payouts(world.uow, CLOCK, wallet.rails)
    key, record = next(iter(world.store.payouts.items()))
    forged = dataclasses.replace(record.transfer, state=TransferState.UNKNOWN)
    world.store.payouts[key] = dataclasses.replace(record, transfer=forged)
    result = verify_ledger(world.uow)
    assert not result.ok
    assert any("payouts:wallet:in_transit" in p for p in result.problems)


def test_list_refuses_an_unknown_state_and_pages() -> None:
    world = _world()
    with pytest.raises(InputError) as refused:
        list_payouts(world.uow, state="paid")
    assert refused.value.param == "state"
    with pytest.raises(InputError):
        list_payouts(world.uow, limit=0)
    assert list_payouts(world.uow) == Page((), has_more=False)


def test_an_unconfigured_rail_refuses_before_anything_is_planned_or_sent() -> None:
    world = _world()
    _claim(world, "P01")

    def unconfigured(name: str) -> PayoutRail:
        return WalletRail(wallet_config({}))  # no PLEDGE_WALLET_URL: refused, naming the variable

    with pytest.raises(InputError, match="PLEDGE_WALLET_URL"):
        run_payouts(world.uow, CLOCK, unconfigured)
    assert list_payouts(world.uow).rows == ()  # nothing half-applied: not even a plan


def test_a_grant_follows_its_transfers_and_the_report_sums_them(wallet: Wallet) -> None:
    world = _world()
    ids = _claim(world, "P01", "P03")
    wallet.provider.max_per_account_day = 190_000  # refuses 1999.00 (P01) for good, pays 1799.00 (P03)
    run_payouts(world.uow, CLOCK, wallet.rails)
    states = {g["id"]: g["state"] for g in grants_by_purchase(world).values()}
    assert (states[ids["P01"]], states[ids["P03"]]) == ("payout_failed", "paid")
    report = report_json(campaign_report(world.uow, CID))
    assert (report["paid_amount"], report["in_transit_amount"], report["failed_amount"]) == (
        "1799.00",
        "0.00",
        "1999.00",
    )
    assert report["claimed_amount"] == "3798.00"  # opened, whatever became of the payout
    assert (report["grants"]["paid"], report["grants"]["payout_failed"]) == (1, 1)
    assert verify_ledger(world.uow).ok
    explained = explanation_json(explain_account(world.uow, rules, "A-cn-1", CID))["purchases"]
    (p01,) = [p for p in explained if p["purchase_id"] == "P01"]
    assert p01["grant"]["state"] == "payout_failed"
    assert [(t["amount"], t["state"], t["reason"]) for t in p01["payout"]] == [
        ("1999.00", "failed", "daily_limit_exceeded")
    ]


def test_ledger_verify_finds_a_success_never_booked_and_a_posting_without_a_transfer(wallet: Wallet) -> None:
    world = _world()
    _claim(world, "P01")
    wallet.provider.post_faults.append("503")
    run_payouts(world.uow, CLOCK, wallet.rails)  # unknown, in transit
    key, record = next(iter(world.store.payouts.items()))
    forged = dataclasses.replace(record.transfer, state=TransferState.SUCCEEDED)
    world.store.payouts[key] = dataclasses.replace(record, transfer=forged)
    problems = verify_ledger(world.uow).problems
    assert any("books nothing as payout_paid" in p for p in problems)
    del world.store.payouts[key]
    problems = verify_ledger(world.uow).problems
    assert any("books a payout with no transfer" in p for p in problems)
