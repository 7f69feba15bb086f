"""The console's charts (near misses by day, grants over time) from the SQL store's grouped reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pledge.adapters.sqlalchemy.insights import SqlInsights
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.entrypoints.presenters import grants_json
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.grants import list_grants
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.insights import MAX_HISTOGRAM_DAYS, grant_timeline, near_miss_histogram
from pledge.usecases.issue import run_campaign
from tests.support.data import campaign
from tests.unit.test_usecases import CID, CLOCK, account_records, purchase_records, rules


@pytest.fixture
def launched(db_url: str) -> Iterator[App]:
    app = App(db_url)
    upgrade(app.engine)
    import_accounts(app.uow, [account_records()])
    import_purchases(app.uow, [purchase_records()])
    apply_campaign(app.uow, rules, CLOCK, campaign(), "ops")
    approve_campaign(app.uow, rules, CLOCK, CID, "finance")
    launch_campaign(app.uow, rules, CLOCK, CID, "finance", None)
    run_campaign(app.uow, rules, CLOCK, CID, "ops")
    yield app
    app.close()


def test_the_timeline_adds_up_to_the_grants_issued(launched: App) -> None:
    timeline = grant_timeline(launched.uow, SqlInsights(launched.engine), CID)
    issued = grants_json(list_grants(launched.uow, campaign_id=CID))["data"]
    assert timeline.campaign == CID and timeline.currency == "CNY"
    assert timeline.days, "a launched campaign issued on some day"
    last = timeline.days[-1].running
    assert last["issued"][0] == len(issued) == timeline.totals["issued"][0]
    assert last["issued"][1] > 0
    assert last["claimed"][0] == last["expired"][0] == 0
    assert timeline.budget_minor is not None


def test_the_near_miss_histogram_counts_whole_days_on_each_side(launched: App) -> None:
    histogram = near_miss_histogram(launched.uow, rules, SqlInsights(launched.engine), CID, 10**6)
    assert histogram.max_days == MAX_HISTOGRAM_DAYS  # clamped
    assert [days for days, _ in histogram.before] == list(range(1, MAX_HISTOGRAM_DAYS + 1))
    counted = sum(n for _, n in histogram.before) + sum(n for _, n in histogram.after)
    assert histogram.total == counted
    assert near_miss_histogram(launched.uow, rules, SqlInsights(launched.engine), CID, 0).max_days == 1
