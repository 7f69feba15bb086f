"""Tiers end to end through the use cases on SQLite and PostgreSQL: the dry run, the run (both
issuance paths), explain and the report agree with the hand calculation in tests/support/tiers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.errors import InputError
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.explain_json import explanation_json
from pledge.entrypoints.presenters import grants_json
from pledge.entrypoints.report_json import report_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.explain import explain_account
from pledge.usecases.grants import claim_grant, list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.report import campaign_report
from pledge.usecases.simulate import simulate_campaign
from tests.support.data import write_files
from tests.support.tiers import (
    EXPECTED_TIER_GRANTS,
    TIER_PURCHASES,
    check_binding_budget,
    check_simulation,
    tiered_campaign,
)

NOW = parse_instant("2021-08-10T12:00:00+08:00")
CID = "founders-refund"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    app = App(db_url, NOW)
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path, TIER_PURCHASES)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    yield app
    app.close()


def launch(app: App, accept_shortfall: int | None = None, **changes: object) -> None:
    apply_campaign(app.uow, app.rules, app.clock, tiered_campaign(**changes), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance", accept_shortfall)


def test_the_dry_run_matches_the_hand_calculation(app: App) -> None:
    apply_campaign(app.uow, app.rules, app.clock, tiered_campaign(), "ops")
    check_simulation(simulate_campaign(app.uow, app.rules, CID, widen_days=2))


def test_a_binding_budget_is_shared_by_the_tiers(app: App) -> None:
    apply_campaign(app.uow, app.rules, app.clock, tiered_campaign(budget="5500.00"), "ops")
    check_binding_budget(simulate_campaign(app.uow, app.rules, CID))


def test_the_run_issues_each_grant_with_its_tier_and_the_report_sums_them(app: App) -> None:
    launch(app)
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    grants = grants_json(list_grants(app.uow, campaign_id=CID))["data"]
    got = {g["purchase_id"]: (round(float(g["amount"]) * 100), g["tier"]) for g in grants}
    assert got == EXPECTED_TIER_GRANTS
    p04 = next(g for g in grants if g["purchase_id"] == "P04")
    claim_grant(app.uow, app.clock, p04["id"])
    report = report_json(campaign_report(app.uow, CID))
    assert report["tiers"] == {
        "founders": {"grants": 3, "amount": "5297.00", "claimed_amount": "0.00"},
        "just-missed": {"grants": 2, "amount": "399.80", "claimed_amount": "199.90"},
    }
    assert report["issued_amount"] == "5696.80"
    assert verify_ledger(app.uow).ok


def test_the_planner_path_writes_the_tier_too(app: App) -> None:
    """A binding budget sends every candidate through the ordered planner (no bulk insert)."""
    launch(app, 1, budget="5500.00")  # P12 gets nothing: the shortfall, accepted
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    grants = grants_json(list_grants(app.uow, campaign_id=CID))["data"]
    assert {g["purchase_id"]: g["tier"] for g in grants} == {
        "P01": "founders",
        "P03": "founders",
        "P10": "founders",
        "P04": "just-missed",
    }


def test_explain_names_the_tier_of_each_purchase(app: App) -> None:
    launch(app)
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    late = explanation_json(explain_account(app.uow, app.rules, "A-cn-3", CID))["purchases"][0]
    purchased = late["conditions"][0]
    assert (purchased["passed"], purchased["tier"], purchased["tier_amount"]) == (
        True,
        "just-missed",
        "199.90",
    )
    assert "tier just-missed (199.90 CNY)" in purchased["detail"]
    assert late["grant"]["tier"] == "just-missed"
    after = next(
        p
        for p in explanation_json(explain_account(app.uow, app.rules, "A-cn-2", CID))["purchases"]
        if p["purchase_id"] == "P13"
    )
    purchased = after["conditions"][0]
    assert (purchased["passed"], purchased["tier"], purchased["days_outside"]) == (False, None, 2)
    assert "in no tier" in purchased["detail"]


@pytest.mark.parametrize(
    ("change", "param", "words"),
    [
        ({"tiers": [{"id": "a", "purchased": {"from": "2011-09-01", "to": "2011-09-30"}},
                    {"id": "b", "purchased": {"from": "2011-10-02", "to": "2011-10-31"}}]},
         "tiers", "no tier covers 2011-10-01 to 2011-10-01"),
        ({"tiers": [{"id": "a", "purchased": {"from": "2011-09-01", "to": "2011-09-30"}},
                    {"id": "a", "purchased": {"from": "2011-10-01", "to": "2011-10-31"}}]},
         "tiers[1].id", "names two tiers"),
        ({"tiers": [{"id": "a", "purchased": {"from": "2011-09-01", "to": "2011-09-30"}, "amonut": "1.00"}]},
         "tiers[0].amonut", "did you mean amount"),
        ({"benefit": {"kind": "cashback", "max_amount": "1999.00"}},
         "benefit.max_amount", "each tier states"),
        ({"qualify": {"purchased": {"from": "2011-09-01", "to": "2011-12-07"}, "rule": ""}},
         "qualify.purchased", "not the tiers' span"),
    ],
)  # fmt: skip
def test_tier_mistakes_are_refused_by_name_and_nothing_is_stored(
    app: App, change: dict[str, object], param: str, words: str
) -> None:
    doc = tiered_campaign()
    doc.update(change)
    with pytest.raises(InputError) as caught:
        apply_campaign(app.uow, app.rules, app.clock, doc, "ops")
    assert caught.value.param == param
    assert words in caught.value.message
    with app.uow() as uow:
        assert uow.campaigns.get(CID) is None
