"""The expiry mark read in SQL agrees with ``domain.grant.lapsed`` (ADR 36), on SQLite and PostgreSQL.

Grants in every stored state, windows on and beside the mark: the report's totals per state, a
list, a lookup and a locked lookup must all read each grant as ``lapsed`` says.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.adapters.sqlalchemy.tables import campaigns, grants
from pledge.bootstrap import App
from pledge.domain.campaign import CampaignState
from pledge.domain.grant import Grant, GrantState, grant_id, lapsed
from pledge.usecases.ports import CampaignRecord

MARK = 1_000_000
_campaigns = itertools.count()

stored = st.fixed_dictionaries(
    {
        "state": st.sampled_from(list(GrantState)),
        # On, just before and just after the mark, and far on either side.
        "expires_at_us": st.sampled_from([MARK - 1, MARK, MARK + 1, 10, MARK * 5]),
        "amount_minor": st.integers(1, 10_000),
    }
)


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[App]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    app = App(str(url))
    upgrade(app.engine)
    yield app
    app.close()


def _grant(campaign_id: str, n: int, row: dict[str, Any]) -> Grant:
    closed = None if row["state"] is GrantState.ISSUED else row["expires_at_us"] - 1
    return Grant(
        grant_id(campaign_id, f"P{n}"),
        campaign_id,
        1,
        f"A{n}",
        f"P{n}",
        row["amount_minor"],
        "CNY",
        row["state"],
        1,
        row["expires_at_us"],
        closed_at_us=closed,
    )


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(stored, min_size=1, max_size=12))
@example(
    rows=[{"state": GrantState.ISSUED, "expires_at_us": MARK + d, "amount_minor": 5} for d in (-1, 0, 1)]
)
def test_sql_reads_each_grant_as_lapsed_says(app: App, rows: list[dict[str, Any]]) -> None:
    campaign_id = f"marks-{next(_campaigns)}"
    written = [_grant(campaign_id, n, row) for n, row in enumerate(rows)]
    with app.uow() as uow:
        uow.campaigns.add(CampaignRecord(campaign_id, "cashback", CampaignState.ACTIVE, "CNY", 0, 0))
        # Written before the mark moves, as a run would write them (the mark refuses later ones).
        uow.grants.add_many([replace(g, expires_at_us=MARK * 9) for g in written], [""] * len(written),
                            posting_id="issue:x")  # fmt: skip
        for g in written:  # then each stored in the state the case wants
            if g.state is not GrantState.ISSUED:
                uow.grants.update(g)
        uow.commit()
    with app.engine.begin() as conn:  # the windows and the mark as the case wants, behind the guard
        for g in written:
            conn.execute(
                update(grants).where(grants.c.grant_id == g.id).values(expires_at_us=g.expires_at_us)
            )
        conn.execute(
            update(campaigns).where(campaigns.c.campaign_id == campaign_id).values(expired_through_us=MARK)
        )
    expected = {g.id: lapsed(g, MARK) for g in written}
    totals: dict[str, tuple[int, int]] = {}
    for g in expected.values():
        n, amount = totals.get(g.state.value, (0, 0))
        totals[g.state.value] = (n + 1, amount + g.amount_minor)
    with app.uow() as uow:
        assert uow.grants.totals(campaign_id) == totals
        page = uow.grants.page(campaign_id=campaign_id, account_id=None, starting_after=None, limit=100)
        assert {g.id: g for g in page} == expected
        assert all(uow.grants.get(i) == g for i, g in expected.items())
        assert all(uow.grants.get(i, for_update=True) == g for i, g in expected.items())
