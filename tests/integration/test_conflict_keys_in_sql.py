"""The database finds the same keys in conflict as the domain's one definition (ADR 11, ADR 22).

``conflict_keys``/``is_free`` in ``pledge.domain.issuance`` say which accounts and serials a
candidate's fate can depend on; ``SqlCandidates`` computes them with grouped passes and joins
against grants already issued (found through the grant id computed in SQL). Generated candidate
sets (shared accounts and devices, no serial, limits of 1, 2 or none, earlier grants, some booked
under another account since) must split the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from pledge.adapters.memory.candidates import MemoryCandidates
from pledge.adapters.sqlalchemy.candidates import CANDIDATE_COLUMNS, SqlCandidates
from pledge.adapters.sqlalchemy.database import make_engine
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.domain.grant import grant_id
from pledge.domain.issuance import Candidate, conflict_keys, is_free, ranked_accounts
from tests.unit.test_grant_and_issuance import terms

ROWS = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "a0", "0007"]),
        st.sampled_from(["", "S1", "S2", "869000210630283"]),
        st.integers(0, 3),  # purchase day: ties in time are broken by purchase id
    ),
    max_size=14,
)
LIMITS = st.sampled_from([1, 2, None])
CAMPAIGN = terms().campaign_id
PRIOR = st.sets(st.integers(0, 13), max_size=3)  # candidates an earlier run of the campaign granted


def _candidates(rows: list[tuple[str, str, int]]) -> list[Candidate]:
    return [
        Candidate(f"P{i:03d}", account, serial, day * 86_400_000_000, 199_900, "CNY")
        for i, (account, serial, day) in enumerate(rows)
    ]


def _store(conn: Connection, candidates: list[Candidate], prior: list[Candidate], moved: bool) -> None:
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE src (purchase_id VARCHAR(128), account_id VARCHAR(128), "
        "serial VARCHAR(128), purchased_at_us BIGINT, price_minor BIGINT, currency VARCHAR(3))"
    )
    if candidates:
        conn.execute(
            text("INSERT INTO src VALUES (:purchase_id, :account_id, :serial, :at, :price, :currency)"),
            [c._asdict() | {"at": c.purchased_at_us, "price": c.price_minor} for c in candidates],
        )
    for c in prior:  # booked then; ``moved``: the purchase (and device) changed account since
        conn.execute(
            text(
                "INSERT INTO grants (grant_id, campaign_id, terms_version, account_id, purchase_id, serial, "
                "amount_minor, currency, state, issued_at_us, expires_at_us, posting_id) VALUES "
                "(:g, :campaign, 1, :a, :p, :s, 100, 'CNY', 'issued', 0, 1, 'po_1')"
            ),
            {
                "g": grant_id(CAMPAIGN, c.purchase_id),
                "campaign": CAMPAIGN,
                "a": f"old-{c.account_id}" if moved else c.account_id,
                "p": c.purchase_id,
                "s": f"old-{c.serial}" if moved and c.serial else c.serial,
            },
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROWS, LIMITS, LIMITS, PRIOR, st.booleans())
@example([("A", "S1", 0), ("A", "S2", 1), ("B", "S2", 2), ("C", "", 3), ("B", "", 3)], 1, 1, set(), False)
@example([("A", "", 0), ("B", "", 1)], 1, 1, {1}, True)  # a moved grant: its new account is in conflict
def test_sql_conflict_keys_equal_the_domain_s(
    db_url: str,
    rows: list[tuple[str, str, int]],
    per_account: int | None,
    per_serial: int | None,
    prior_rows: set[int],
    moved: bool,
) -> None:
    candidates = _candidates(rows)
    prior = [c for i, c in enumerate(candidates) if i in prior_rows]
    t = replace(terms(), per_account=per_account, per_serial=per_serial)
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            _store(conn, candidates, prior, moved)
            source = f"SELECT {CANDIDATE_COLUMNS} FROM src"
            prepared = SqlCandidates(conn, source, t, count_issued=True)
            sql = (
                sorted(prepared.tracked_accounts()),
                sorted(prepared.tracked_serials()),
                list(prepared.conflicting()),
                prepared.rank_refused(),
            )
            prepared.close()
            transaction.rollback()
    finally:
        engine.dispose()
    prior_accounts = [f"old-{c.account_id}" if moved else c.account_id for c in prior]
    prior_serials = [f"old-{c.serial}" if moved and c.serial else c.serial for c in prior]
    prior_purchases = [c.purchase_id for c in prior]
    accounts, serials = conflict_keys(
        candidates, per_account, per_serial, prior_accounts, prior_serials, prior_purchases
    )
    ranked = ranked_accounts(candidates, per_account, serials, prior_accounts, prior_purchases)
    reference = MemoryCandidates(candidates, t, prior_accounts, prior_serials, prior_purchases)
    ordered = sorted(candidates, key=lambda c: (c.purchased_at_us, c.purchase_id))
    assert sql == (
        sorted(accounts),
        sorted(serials),
        [c for c in ordered if not is_free(c, accounts, serials) and c.account_id not in ranked],
        reference.rank_refused(),
    )
