"""Compensation tells each customer, on SQLite and PostgreSQL: one ``compensation_applied`` per
extended subscription and channel, written with the extension, in a bounded number of statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from pledge.adapters.sqlalchemy.notification_tables import notification_distributions, notification_messages
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.adapters.sqlalchemy.tables import compensations
from pledge.bootstrap import App, FixedClock, cached_rule
from pledge.domain.records import AccountRecord
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.catalog import apply_plans
from pledge.usecases.compensate import BATCH, compensate_campaign
from pledge.usecases.import_data import import_accounts
from pledge.usecases.notify import distribution_status
from pledge.usecases.notify_transactional import transactional_distribution_id
from pledge.usecases.subscriptions import buy_subscription
from tests.support.billing import BUY_AT, CAMPAIGN_ID, PLAN_IDS, offer, plans, us

PREPARED = "2023-10-20T09:00:00+08:00"
PUBLISHED = "2023-11-03T11:00:00+08:00"
COMPENSATED = "2023-11-04T09:00:00+08:00"
CONTACTS = {  # email, phone, language
    "U01": ("li@example.com", "+8613800138001", "zh-CN"),
    "U02": ("ann@example.com", "", "en"),
    "U03": ("", "", "zh-CN"),
}


def clock(instant: str | int) -> FixedClock:
    return FixedClock(us(instant) if isinstance(instant, str) else instant)


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = App(db_url, us(PREPARED))
    upgrade(app.engine)
    registered = us("2020-01-01T00:00:00+08:00")
    import_accounts(app.uow, [[AccountRecord(a, "CN", registered, *c) for a, c in CONTACTS.items()]])
    apply_plans(app.uow, app.clock, plans(), "ops")
    apply_campaign(app.uow, cached_rule, clock(PREPARED), offer(1), "ops")
    approve_campaign(app.uow, cached_rule, clock(PREPARED), CAMPAIGN_ID, "fin")
    launch_campaign(app.uow, cached_rule, clock(PREPARED), CAMPAIGN_ID, "fin")
    yield app
    app.close()


def publish_v2(app: App) -> None:
    apply_campaign(app.uow, cached_rule, clock(PUBLISHED), offer(2), "ops")
    approve_campaign(app.uow, cached_rule, clock(PUBLISHED), CAMPAIGN_ID, "fin")


def compensate(app: App, when: str = COMPENSATED) -> Any:
    return compensate_campaign(app.uow, clock(when), CAMPAIGN_ID, "ops", dry_run=False)


def told(app: App) -> Counter[tuple[str, str, str]]:
    """compensation_applied messages by (account, channel, state)."""
    m = notification_messages
    query = select(m.c.account_id, m.c.channel, m.c.state).where(m.c.template == "compensation_applied")
    with app.engine.connect() as conn:
        return Counter(tuple(row) for row in conn.execute(query))


def test_one_message_per_compensated_account_and_channel_and_none_on_a_rerun(app: App) -> None:
    terms = {
        a: buy_subscription(app.uow, clock(BUY_AT), a, plan).id
        for a, plan in zip(CONTACTS, PLAN_IDS, strict=True)
    }
    publish_v2(app)
    assert compensate(app).applied == 3
    first = told(app)
    assert first == Counter(
        {
            ("U01", "email", "queued"): 1,
            ("U01", "sms", "queued"): 1,
            ("U01", "inapp", "queued"): 1,
            ("U02", "email", "queued"): 1,
            ("U02", "sms", "suppressed"): 1,
            ("U02", "inapp", "queued"): 1,
            ("U03", "email", "suppressed"): 1,
            ("U03", "sms", "suppressed"): 1,
            ("U03", "inapp", "queued"): 1,
        }
    )
    status = distribution_status(app.uow, transactional_distribution_id("compensation_applied", terms["U02"]))
    assert (status.record.template, status.record.state, status.record.recipients) == (
        "compensation_applied",
        "released",
        1,
    )
    assert (status.counts.queued, status.counts.suppressed) == (2, 1)

    rerun = compensate(app, "2023-11-05T09:00:00+08:00")
    assert rerun.applied == 0
    assert told(app) == first  # idempotent: no extension, no message


def test_a_large_run_writes_its_messages_in_a_bounded_number_of_statements(app: App) -> None:
    """More terms than a batch: every extension is told (one distribution, three messages each) and
    the notification tables see a handful of statements per batch, not some per account."""
    terms = BATCH + 40
    for n in range(terms):
        account = list(CONTACTS)[n % len(CONTACTS)]
        buy_subscription(app.uow, clock(us(BUY_AT) + n * 60_000_000), account, PLAN_IDS[n % 3])
    publish_v2(app)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "notification_" in statement:
            statements.append(statement.split("(", maxsplit=1)[0].strip()[:60])

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        assert compensate(app).applied == terms
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
    batches = -(-terms // BATCH)
    # Per batch: the opt-outs of its accounts, one INSERT of distributions, one of the messages (a
    # multi-row INSERT sent in pages of 1,000 rows: two for a full batch's 1,500).
    assert len(statements) <= batches * 4, statements
    with app.engine.connect() as conn:
        compensated = conn.execute(select(func.count()).select_from(compensations)).scalar_one()
        distributions = conn.execute(
            select(func.count())
            .select_from(notification_distributions)
            .where(notification_distributions.c.template == "compensation_applied")
        ).scalar_one()
    assert compensated == distributions == terms
    assert sum(told(app).values()) == 3 * terms
