"""A selection's candidates, prepared once in the database and split for the planner.

The candidates (window and rule, one scan with the join) are written once into a temporary table;
grouped passes over it find the accounts and serials in conflict (``conflict_keys`` in
``pledge.domain.issuance``: more candidates than their limit allows, or a grant already). Free
candidates are counted, summed and issued in single statements, and so are those of the ranked
accounts (over their limit, in conflict for no other reason: ``ranked_accounts``, ADR 39), decided
by a window over each account; only the other conflicting ones are streamed, in order, to the
planner (ADR 11). Candidates another campaign of the promise group already paid are left out
first, their accounts and devices in conflict (ADR 15, ``group_exclusion.py``). Temporary tables:
no WAL on PostgreSQL, no journal on SQLite, dropped on commit (PostgreSQL) or by ``close``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from itertools import starmap
from typing import Any

from sqlalchemy import Connection, text

from pledge.adapters.sqlalchemy.benefit_sql import (
    amount_sql,
    earns_nothing_sql,
    exceeds_price_sql,
    granted_sql,
    other_currency_sql,
    tier_sql,
)
from pledge.adapters.sqlalchemy.database import stream_rows
from pledge.adapters.sqlalchemy.group_exclusion import GroupExclusion
from pledge.domain.campaign import CashbackTerms
from pledge.domain.grant import GrantState
from pledge.domain.issuance import Candidate
from pledge.usecases.ports import FreeGrants
from pledge.usecases.scan_ports import CandidateTotals, RankRefused

CANDIDATE_COLUMNS = "purchase_id, account_id, serial, purchased_at_us, price_minor, currency"
_ORDER = "ORDER BY purchased_at_us, purchase_id"
# Not for the planner: free, or of a ranked account (ADR 39). The key tables hold only the keys that
# send a candidate to the planner: accounts in conflict but not ranked, and serials in conflict.
_UNPLANNED = "ka.account_id IS NULL AND ks.serial IS NULL"
_GRANT_COLUMNS = (
    "grant_id, campaign_id, terms_version, account_id, purchase_id, serial, amount_minor, currency, "
    "state, issued_at_us, expires_at_us, posting_id, tier"
)


def grant_id_sql(dialect: str, campaign: str, purchase: str) -> str:
    """``pledge.domain.grant.grant_id`` in SQL: PostgreSQL's sha256, SQLite's registered function."""
    if dialect == "postgresql":
        # The first 12 bytes, then hex: the same 24 characters, half the encoding.
        return (
            f"'gr_' || encode(substr(sha256(convert_to({campaign} || chr(31) || {purchase}, 'UTF8')), "
            "1, 12), 'hex')"
        )
    return f"pledge_grant_id({campaign}, {purchase})"


class SqlCandidates:
    """One prepared candidate set on one connection (see the module's docstring)."""

    def __init__(
        self, conn: Connection, source_sql: str, terms: CashbackTerms, *, count_issued: bool
    ) -> None:
        self._conn, self._terms = conn, terms
        self._postgres = conn.dialect.name == "postgresql"
        name = f"pledge_cand_{secrets.token_hex(4)}"
        self.table, self._accounts, self._serials = name, f"{name}_a", f"{name}_s"
        self._ranked, self._rank = f"{name}_r", f"{name}_rk"  # ranked accounts, their candidates
        self._ranked_any: bool | None = None  # known once the ranked accounts' candidates are decided
        self._closed = False
        self._totals: CandidateTotals | None = None
        on_commit = " ON COMMIT DROP" if self._postgres else ""
        without_rowid = "" if self._postgres else " WITHOUT ROWID"
        if self._postgres:
            conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # the groupings below, in memory
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name}{on_commit} AS {source_sql}")
        for table, key in (
            (self._accounts, "account_id"),
            (self._serials, "serial"),
            (self._ranked, "account_id"),
        ):
            conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {table} ({key} VARCHAR(128) PRIMARY KEY){without_rowid}{on_commit}"
            )
        prior = count_issued and self._has_grants()
        dialect = conn.dialect.name
        self._group = GroupExclusion(
            conn,
            name,
            terms,
            own_grant_id=(lambda p: grant_id_sql(dialect, ":campaign", p)) if prior else None,
        )
        if self._postgres:
            conn.exec_driver_sql(f"ANALYZE {name}")
        # The accounts in conflict for another reason than their number go first, the ranked ones
        # (``ranked_accounts``, ADR 39) are those of the others no serial in conflict touches.
        self._conflicts("account_id", None, prior, "")
        self._conflicts("serial", terms.per_serial, prior, " WHERE serial <> ''")
        self._group.put_keys_in_conflict(self._accounts, self._serials)
        if prior:  # a purchase granted before, wherever it belongs now: its account is in conflict
            grant_id = grant_id_sql(conn.dialect.name, ":campaign", "c.purchase_id")
            conn.execute(
                text(
                    f"INSERT INTO {self._accounts} (account_id) SELECT DISTINCT c.account_id "
                    f"FROM {name} c JOIN grants g ON g.grant_id = {grant_id} "
                    "WHERE g.campaign_id = :campaign ON CONFLICT DO NOTHING"
                ),
                {"campaign": terms.campaign_id},
            )
        self._rank_accounts(terms.per_account)
        if self._postgres:
            for table in (self._accounts, self._serials, self._ranked):
                conn.exec_driver_sql(f"ANALYZE {table}")

    def _rank_accounts(self, limit: int | None) -> None:
        """The accounts over their limit, and of those the ranked ones: in conflict for no other
        reason, and no candidate of theirs carries a serial in conflict. The others stay with the
        accounts the planner decides, so that its key tables hold only its keys (small probes)."""
        if limit is None:
            return
        accounts, ranked = self._accounts, self._ranked
        self._conflicts("account_id", limit, False, "", into=ranked)
        execute = self._conn.exec_driver_sql
        execute(f"DELETE FROM {ranked} WHERE account_id IN (SELECT account_id FROM {accounts})")
        touched = (
            f"SELECT c.account_id FROM {self.table} c JOIN {self._serials} ks ON ks.serial = c.serial "
            f"JOIN {ranked} r ON r.account_id = c.account_id"
        )
        execute(f"INSERT INTO {accounts} (account_id) {touched} ON CONFLICT DO NOTHING")
        execute(f"DELETE FROM {ranked} WHERE account_id IN (SELECT account_id FROM {accounts})")

    def paid_elsewhere(self) -> dict[str, int]:
        return dict(self._group.counts)

    def excluded_keys(self) -> Iterator[tuple[str, str]]:
        return self._group.keys()

    def _has_grants(self) -> bool:
        """Whether the campaign issued anything yet (through the campaign/posting index)."""
        found = self._conn.execute(
            text("SELECT 1 FROM grants WHERE campaign_id = :campaign LIMIT 1"),
            {"campaign": self._terms.campaign_id},
        ).first()
        return found is not None

    def _conflicts(
        self, key: str, limit: int | None, count_issued: bool, where: str, *, into: str | None = None
    ) -> None:
        table = into or (self._accounts if key == "account_id" else self._serials)
        if limit is not None:  # the grouping's output is in key order: the key table fills in order
            self._conn.exec_driver_sql(
                f"INSERT INTO {table} ({key}) SELECT {key} FROM {self.table}{where} "
                f"GROUP BY {key} HAVING COUNT(*) > {int(limit)}"
            )
        if count_issued:
            grant_where = "" if key == "account_id" else " AND serial <> ''"
            self._conn.execute(
                text(
                    f"INSERT INTO {table} ({key}) SELECT DISTINCT {key} FROM grants "
                    f"WHERE campaign_id = :campaign{grant_where} ON CONFLICT DO NOTHING"
                ),
                {"campaign": self._terms.campaign_id},
            )

    def _joined(self) -> str:
        """The candidates ``c`` with the keys that send them to the planner, if any (``ka``, ``ks``):
        two hash joins on PostgreSQL, two primary-key probes per candidate on SQLite, into tables of
        the planner's keys alone (no ranked account). No key table holds ``''``."""
        return (
            f"{self.table} c LEFT JOIN {self._accounts} ka ON ka.account_id = c.account_id "
            f"LEFT JOIN {self._serials} ks ON ks.serial = c.serial"
        )

    def totals(self) -> CandidateTotals:
        if self._totals is None:
            self._totals = self._sums(f"{self.table} c")
        return self._totals

    def _sums(self, source: str, where: str = "TRUE") -> CandidateTotals:
        """One pass over ``source`` (aliased ``c``) alone, no key lookups. Over every candidate, the
        planner sums the conflicting ones as they stream by, and the free ones are the difference."""
        benefit, dialect = self._terms.benefit, self._conn.dialect.name
        amount = amount_sql(benefit, dialect)
        granted = granted_sql(benefit, dialect)
        row = self._conn.execute(
            text(
                f"SELECT COALESCE(SUM(CASE WHEN {granted} THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN {granted} THEN {amount} ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN {other_currency_sql(benefit, dialect)} THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN {exceeds_price_sql(benefit, dialect)} THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN {earns_nothing_sql(benefit, dialect)} THEN 1 ELSE 0 END), 0) "
                f"FROM {source} WHERE {where}"
            )
        ).one()
        count, total, other_currency, overpaid, earns_nothing = (int(v) for v in row)
        tiers = self._tier_totals(source, where)
        return CandidateTotals(count, total, other_currency, overpaid, earns_nothing, tiers)

    def _tier_totals(self, source: str, where: str) -> dict[str, tuple[int, int]]:
        """Each tier's share of the granted count and amount (tiered terms only: one more pass)."""
        benefit, dialect = self._terms.benefit, self._conn.dialect.name
        if not benefit.tiered:
            return {}
        tier, amount = tier_sql(benefit, dialect), amount_sql(benefit, dialect)
        rows = self._conn.execute(
            text(
                f"SELECT {tier}, COUNT(*), COALESCE(SUM({amount}), 0) "
                f"FROM {source} WHERE {where} AND {granted_sql(benefit, dialect)} GROUP BY 1"
            )
        )
        return {str(tier): (int(n), int(total)) for tier, n, total in rows}

    def rank_refused(self) -> RankRefused:
        """The ranked accounts' candidates, each with how many of its account's earlier ones earn
        (``earlier``): with the budget aside, those are granted up to the limit, so a candidate is
        refused if ``earlier`` reached it, and granted if it earns and ``earlier`` did not."""
        limit = self._terms.per_account
        if not self._decide_ranked() or limit is None:
            return RankRefused()
        refused = f"c.earlier >= {int(limit)}"
        count = self._conn.exec_driver_sql(f"SELECT COUNT(*) FROM {self._rank} c WHERE {refused}")
        return RankRefused(int(count.scalar_one()), self._sums(f"{self._rank} c", refused))

    def _decide_ranked(self) -> bool:
        """The ranked accounts' candidates into their table, once; whether there are any."""
        if self._ranked_any is None:
            granted = granted_sql(self._terms.benefit, self._conn.dialect.name)
            on_commit = " ON COMMIT DROP" if self._postgres else ""
            columns = ", ".join(f"c.{name}" for name in CANDIDATE_COLUMNS.split(", "))
            self._conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {self._rank}{on_commit} AS SELECT {columns}, "
                f"COALESCE(SUM(CASE WHEN {granted} THEN 1 ELSE 0 END) OVER (PARTITION BY c.account_id "
                "ORDER BY c.purchased_at_us, c.purchase_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
                f"), 0) AS earlier FROM {self.table} c JOIN {self._ranked} r ON r.account_id = c.account_id"
            )
            found = self._conn.exec_driver_sql(f"SELECT 1 FROM {self._rank} LIMIT 1").first()
            self._ranked_any = found is not None
        return self._ranked_any

    def conflicting(self) -> Iterator[Candidate]:
        columns = ", ".join(f"c.{name}" for name in CANDIDATE_COLUMNS.split(", "))
        order = "ORDER BY c.purchased_at_us, c.purchase_id"
        sql = f"SELECT {columns} FROM {self._joined()} WHERE NOT ({_UNPLANNED}) {order}"
        return starmap(Candidate, stream_rows(self._conn, sql))

    def everything(self) -> Iterator[Candidate]:
        return starmap(
            Candidate, stream_rows(self._conn, f"SELECT {CANDIDATE_COLUMNS} FROM {self.table} {_ORDER}")
        )

    def tracked_accounts(self, *, ranked: bool = True) -> Iterator[str]:
        sql = f"SELECT account_id FROM {self._accounts}"
        if ranked:
            sql += f" UNION ALL SELECT account_id FROM {self._ranked}"  # disjoint
        return (row[0] for row in stream_rows(self._conn, sql))

    def tracked_serials(self) -> Iterator[str]:
        return (row[0] for row in stream_rows(self._conn, f"SELECT serial FROM {self._serials}"))

    def insert_free(self, grants: FreeGrants) -> CandidateTotals:
        """One ``INSERT … SELECT`` of every free candidate's grant and the ranked accounts' granted
        ones, in grant-id (primary-key) order."""
        dialect = self._conn.dialect.name
        amount = amount_sql(self._terms.benefit, dialect)
        granted = granted_sql(self._terms.benefit, dialect)
        grant_id = grant_id_sql(dialect, ":campaign", "c.purchase_id")
        tier = tier_sql(self._terms.benefit, dialect)
        params: dict[str, Any] = {
            "campaign": grants.campaign_id,
            "version": grants.terms_version,
            "currency": grants.currency,
            "state": GrantState.ISSUED.value,
            "issued": grants.issued_at_us,
            "expires": grants.expires_at_us,
            "posting": grants.posting_id,
        }
        row = (
            f"SELECT {grant_id}, :campaign, :version, c.account_id, c.purchase_id, c.serial, {amount}, "
            f":currency, :state, :issued, :expires, :posting, {tier}"
        )
        chosen = (
            f"{row} FROM {self._joined()} LEFT JOIN {self._ranked} kr ON kr.account_id = c.account_id "
            f"WHERE {_UNPLANNED} AND kr.account_id IS NULL AND {granted}"
        )
        limit = self._terms.per_account
        if limit is not None and self._decide_ranked():
            chosen += f" UNION ALL {row} FROM {self._rank} c WHERE {granted} AND c.earlier < {int(limit)}"
        if self._postgres:
            self._conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # the sort, in fewer runs
        self._conn.execute(text(f"INSERT INTO grants ({_GRANT_COLUMNS}) {chosen} ORDER BY 1"), params)
        row_sums = self._conn.execute(
            text(
                "SELECT COUNT(*), COALESCE(SUM(amount_minor), 0) FROM grants "
                "WHERE campaign_id = :campaign AND posting_id = :posting"
            ),
            params,
        ).one()
        return CandidateTotals(int(row_sums[0]), int(row_sums[1]))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._conn.closed or not self._conn.in_transaction():
            return  # PostgreSQL dropped them at commit; a rolled-back SQLite transaction took them along
        tables = (self.table, self._accounts, self._serials, self._ranked, self._rank)
        for table in (*tables, *self._group.tables()):
            self._conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
