"""The SQL push-down paths agree with the in-memory reference on a generated crowd.

Counts per condition (the grouped bit-mask scan), the near-miss list in its order
(read through the time index in slices, then a full scan), the candidates and
the dry run's reach and cost: on SQLite and PostgreSQL, with windows that make
each path of the near-miss reader run (dense near misses, none inside the
window, a window outside the history).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

import pytest
from alembic import command

from pledge.adapters.files.generate import generate
from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.sqlalchemy import purchases as sql_purchases
from pledge.adapters.sqlalchemy.schema import alembic_config, upgrade
from pledge.bootstrap import App
from pledge.domain.campaign import CampaignState, parse_cashback_terms
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.records import AccountRecord
from pledge.domain.timeutil import parse_instant
from pledge.usecases.common import selection_for
from pledge.usecases.import_data import Corrector, import_accounts, import_purchases
from pledge.usecases.ports import CampaignRecord
from pledge.usecases.scan_ports import Selection
from pledge.usecases.simulate import simulate_terms
from tests.support.data import campaign

ROWS = 4_000
CLOCK_US = parse_instant("2021-08-10T12:00:00+08:00")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    result = generate(tmp_path_factory.mktemp("crowd"), purchases=ROWS, seed=7)
    return result.accounts_path, result.purchases_path


def _load(uow_factory: object, files: tuple[Path, Path]) -> None:
    import_accounts(uow_factory, read_accounts(files[0]))  # type: ignore[arg-type]  # either store's factory
    # A bulk-load threshold below the crowd's size makes the SQL store take its bulk-load path
    # (indexes rebuilt once; on SQLite the account fields filled by one join at the end).
    with patch.object(sql_purchases, "BULK_LOAD_ROWS", ROWS // 4):
        import_purchases(uow_factory, read_purchases(files[1]), expected_rows=ROWS)  # type: ignore[arg-type]  # as above


def _selections(app: App) -> list[Selection]:
    terms = parse_cashback_terms(campaign())
    base = selection_for(terms, app.rules)
    window = base.window
    return [
        base,
        # Everyone inside fails two conditions: no near miss inside, only outside the window.
        replace(base, conditions=[*base.conditions, *base.conditions[:1]]),
        # A window far before the history: every near miss is a window miss, far away.
        replace(
            base,
            window=replace(
                window, first=window.first.replace(year=2001), last=window.last.replace(year=2001)
            ),
        ),
    ]


@pytest.mark.parametrize("limit", [1, 100, 5_000])
def test_sql_scans_agree_with_the_reference(db_url: str, files: tuple[Path, Path], limit: int) -> None:
    app = App(db_url)
    upgrade(app.engine)
    _load(app.uow, files)
    store = MemoryStore()
    memory = memory_uow_factory(store)
    _load(memory, files)
    terms = parse_cashback_terms(campaign())
    for selection in _selections(app):
        with app.uow() as sql_uow, memory() as mem_uow:
            assert sql_uow.purchases.scan(selection) == mem_uow.purchases.scan(selection)
            assert sql_uow.purchases.near_misses(selection, limit) == mem_uow.purchases.near_misses(
                selection, limit
            )
            assert list(sql_uow.purchases.candidates(selection)) == list(
                mem_uow.purchases.candidates(selection)
            )
            kwargs = {"campaign_launched": False, "near_miss_limit": limit, "widen_days": 3}
            assert simulate_terms(sql_uow, terms, selection, **kwargs) == simulate_terms(
                mem_uow, terms, selection, **kwargs
            )
    app.close()


def test_scans_split_across_mask_columns_agree_with_the_reference(
    db_url: str, files: tuple[Path, Path]
) -> None:
    """More conditions than one mask column holds: the grouped scan over several columns (SQLite's
    single-column sums are then not used) counts as the reference does."""
    app = App(db_url)
    upgrade(app.engine)
    _load(app.uow, files)
    memory = memory_uow_factory(MemoryStore())
    _load(memory, files)
    with patch("pledge.adapters.sqlalchemy.purchases._MASK_BITS", 2):
        for selection in _selections(app):
            with app.uow() as sql_uow, memory() as mem_uow:
                assert sql_uow.purchases.scan(selection) == mem_uow.purchases.scan(selection)
    app.close()


@pytest.mark.parametrize(
    "limits",
    [
        {"per_account": 1, "per_serial": 1},
        {"per_account": 2, "per_serial": None},
        {"per_account": None, "per_serial": 1},
        {"per_account": None, "per_serial": None},
    ],
)
@pytest.mark.parametrize("benefit", [{}, {"amount": "1500.00"}])
def test_prepared_candidates_agree_with_the_reference(
    db_url: str, files: tuple[Path, Path], limits: dict[str, int | None], benefit: dict[str, str]
) -> None:
    """The split into free and conflicting candidates (ADR 11), its totals and its keys."""
    app = App(db_url)
    upgrade(app.engine)
    _load(app.uow, files)
    memory = memory_uow_factory(MemoryStore())
    _load(memory, files)
    document = campaign(limits=limits)
    document["benefit"] = {**document["benefit"], **benefit}
    terms = parse_cashback_terms(document)
    selection = selection_for(terms, app.rules)
    with app.uow() as sql_uow, memory() as mem_uow:
        sql = sql_uow.purchases.prepare(selection, terms, count_issued=True)
        mem = mem_uow.purchases.prepare(selection, terms, count_issued=True)
        assert sql.totals() == mem.totals()
        assert list(sql.conflicting()) == list(mem.conflicting())
        assert list(sql.everything()) == list(mem.everything())
        assert sorted(sql.tracked_accounts()) == list(mem.tracked_accounts())
        assert sorted(sql.tracked_accounts(ranked=False)) == list(mem.tracked_accounts(ranked=False))
        assert sql.rank_refused() == mem.rank_refused()
        assert sorted(sql.tracked_serials()) == list(mem.tracked_serials())
        if limits["per_account"] == 1:
            assert next(mem.conflicting(), None), "the generated crowd has accounts buying twice"
            assert sum(1 for _ in mem.conflicting()) < mem.totals().count, "and accounts buying once"
        sql.close()
    app.close()


def test_account_fields_on_purchases_follow_account_updates(db_url: str, files: tuple[Path, Path]) -> None:
    """Purchases carry their account's region and registration (ADR 12); an account update moves
    them, so every scan still agrees with the reference, which reads the accounts themselves."""
    app = App(db_url)
    upgrade(app.engine)
    _load(app.uow, files)
    memory = memory_uow_factory(MemoryStore())
    _load(memory, files)

    def move(a: AccountRecord) -> AccountRecord:  # every account: another region, a later sign-up
        return a._replace(region="HK" if a.region == "CN" else "CN", registered_at_us=a.registered_at_us + 1)

    moved = [[move(a) for a in batch] for batch in read_accounts(files[0])]
    for uow in (app.uow, memory):
        import_accounts(uow, moved, update=True, corrector=Corrector(app.rules, app.clock))
    terms = parse_cashback_terms(campaign())
    selection = selection_for(terms, app.rules)
    with app.uow() as sql_uow, memory() as mem_uow:
        assert sql_uow.purchases.scan(selection) == mem_uow.purchases.scan(selection)
        assert list(sql_uow.purchases.candidates(selection)) == list(mem_uow.purchases.candidates(selection))
        stale = sql_uow.purchases._conn.exec_driver_sql(  # type: ignore[attr-defined]  # the SQL store's own
            "SELECT COUNT(*) FROM purchases p JOIN accounts a ON a.account_id = p.account_id "
            "WHERE p.account_region <> a.region OR p.account_registered_at_us <> a.registered_at_us"
        ).scalar_one()
        assert stale == 0
    app.close()


def test_the_migration_copies_account_fields_onto_stored_purchases(
    db_url: str, files: tuple[Path, Path]
) -> None:
    app = App(db_url)
    upgrade(app.engine)
    _load(app.uow, files)
    config = alembic_config()
    with app.engine.begin() as conn:  # later revisions undone first, by their own downgrades
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    with app.engine.begin() as conn:  # as revision 0004 left them: no account fields on purchases
        conn.exec_driver_sql("UPDATE purchases SET account_region = '', account_registered_at_us = 0")
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0004'")
        conn.exec_driver_sql("ALTER TABLE purchases DROP COLUMN account_region")
        conn.exec_driver_sql("ALTER TABLE purchases DROP COLUMN account_registered_at_us")
    upgrade(app.engine)
    with app.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT COUNT(*), SUM(CASE WHEN p.account_region = a.region "
            "AND p.account_registered_at_us = a.registered_at_us THEN 1 ELSE 0 END) "
            "FROM purchases p JOIN accounts a ON a.account_id = p.account_id"
        ).one()
    assert rows[0] == ROWS and rows[1] == ROWS
    app.close()


STATES = (GrantState.ISSUED, GrantState.EXPIRED)  # both pay: the customer was offered the promise


@pytest.mark.parametrize("stacking", ["excluded", "allowed"])
def test_candidates_paid_in_the_group_agree_with_the_reference(
    db_url: str, files: tuple[Path, Path], stacking: str
) -> None:
    """The group's anti-join (ADR 15) against the reference: the same candidates left out, the same
    counts per paying campaign, the same keys in conflict, and the same dry run."""
    app = App(db_url)
    upgrade(app.engine)
    _load(app.uow, files)
    memory = memory_uow_factory(MemoryStore())
    _load(memory, files)
    terms = parse_cashback_terms(campaign(stacking=stacking))
    selection = selection_for(terms, app.rules)
    with memory() as uow:
        paid = list(uow.purchases.candidates(selection))[::7]  # every 7th candidate, in two campaigns
    for factory in (app.uow, memory):
        with factory() as uow:
            for other in ("copy-a", "copy-b"):
                uow.campaigns.add(CampaignRecord(other, "cashback", CampaignState.ACTIVE, "CNY", 0, 0))
            grants = [
                Grant(
                    grant_id(other, c.purchase_id), other, 1, c.account_id, c.purchase_id, 1, "CNY",
                    # a revoked grant pays nobody: the purchase stays a candidate
                    GrantState.REVOKED if i % 5 == 0 else STATES[i % 2], 0, 1,
                )
                for i, c in enumerate(paid)
                for other in (("copy-a",) if i % 2 else ("copy-a", "copy-b"))
            ]  # fmt: skip
            uow.grants.add_many(grants, [""] * len(grants), posting_id="issue:other")
            uow.commit()
    with app.uow() as sql_uow, memory() as mem_uow:
        sql = sql_uow.purchases.prepare(selection, terms, count_issued=False)
        mem = mem_uow.purchases.prepare(selection, terms, count_issued=False)
        assert sql.paid_elsewhere() == mem.paid_elsewhere() != {}
        assert sql.totals() == mem.totals()
        assert list(sql.everything()) == list(mem.everything())
        assert list(sql.conflicting()) == list(mem.conflicting())
        assert sorted(sql.excluded_keys()) == sorted(mem.excluded_keys())
        assert sorted(sql.tracked_accounts()) == list(mem.tracked_accounts())
        assert sorted(sql.tracked_accounts(ranked=False)) == list(mem.tracked_accounts(ranked=False))
        assert sql.rank_refused() == mem.rank_refused()
        assert sorted(sql.tracked_serials()) == list(mem.tracked_serials())
        sql.close()
        kwargs = {"campaign_launched": False, "near_miss_limit": 10, "widen_days": 3}
        simulated = simulate_terms(sql_uow, terms, selection, **kwargs)
        assert simulated == simulate_terms(mem_uow, terms, selection, **kwargs)
        assert simulated.plan.already_paid == (
            0 if stacking == "allowed" else sum(mem.paid_elsewhere().values())
        )
    app.close()
