"""The database computes the same grant ids as the domain (ADR 11): the exactly-once key."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from pledge.adapters.sqlalchemy.candidates import grant_id_sql
from pledge.adapters.sqlalchemy.database import make_engine
from pledge.domain.grant import grant_id

# Ids as files may carry them: any text but NUL (which neither engine stores) and lone surrogates.
IDS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(IDS, IDS), min_size=1, max_size=8))
def test_sql_grant_ids_equal_the_domain_s(db_url: str, pairs: list[tuple[str, str]]) -> None:
    # The definition itself, pinned (on SQLite the SQL function is the domain's own).
    assert grant_id("founders-refund", "P000000001") == "gr_f5739045ff28bb81357b08ad"
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for campaign, purchase in [("founders-refund", "P000000001"), ("c", "购买-1"), *pairs]:
                sql = f"SELECT {grant_id_sql(conn.dialect.name, ':c', ':p')}"
                got = conn.execute(text(sql), {"c": campaign, "p": purchase}).scalar_one()
                assert got == grant_id(campaign, purchase), (campaign, purchase)
    finally:
        engine.dispose()
