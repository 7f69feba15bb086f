"""Candidates another campaign of the promise group already paid: counted, and left out (ADR 15).

Set-based, next to the candidates' temporary table: the grants of the group's other campaigns
(read through their campaign index) keyed by purchase in a temporary table, one join of the
candidates against it, and one delete of the candidates it found. Skipped whole when no other
campaign of the group has a grant, so a campaign alone in its group pays one query for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Connection, text

from pledge.adapters.sqlalchemy.database import stream_rows
from pledge.domain.campaign import CashbackTerms


class GroupExclusion:
    """The candidates of ``table`` already paid elsewhere in ``terms``' group.

    ``own_grant_id``, when this campaign has grants, turns a purchase id column into SQL for its
    grant id here: a purchase it paid itself stays "already granted", whoever else paid it too.
    """

    def __init__(
        self,
        conn: Connection,
        table: str,
        terms: CashbackTerms,
        *,
        own_grant_id: Callable[[str], str] | None,
    ) -> None:
        self._conn, self._terms = conn, terms
        self.counts: dict[str, int] = {}
        self._excluded: str | None = None
        others = self._others_with_grants()
        if not others:
            return
        postgres = conn.dialect.name == "postgresql"
        on_commit = " ON COMMIT DROP" if postgres else ""
        without_rowid = "" if postgres else " WITHOUT ROWID"
        paid, excluded = f"{table}_p", f"{table}_x"
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {paid} (purchase_id VARCHAR(128) PRIMARY KEY, "
            f"campaign_id VARCHAR(64) NOT NULL){without_rowid}{on_commit}"
        )
        names = {f"o{i}": other for i, other in enumerate(others)}
        # Revoked grants do not count (the purchase was returned or corrected); expired ones do:
        # the customer was offered the promise and let it lapse.
        conn.execute(
            text(
                f"INSERT INTO {paid} (purchase_id, campaign_id) SELECT g.purchase_id, MIN(g.campaign_id) "
                f"FROM grants g WHERE g.campaign_id IN ({', '.join(f':{k}' for k in names)}) "
                "AND g.state <> 'revoked' GROUP BY g.purchase_id"
            ),
            names,
        )
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {excluded} (purchase_id VARCHAR(128) PRIMARY KEY, "
            "account_id VARCHAR(128) NOT NULL, serial VARCHAR(128) NOT NULL, "
            f"campaign_id VARCHAR(64) NOT NULL){without_rowid}{on_commit}"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {excluded} (purchase_id, account_id, serial, campaign_id) "
            f"SELECT c.purchase_id, c.account_id, c.serial, p.campaign_id FROM {table} c "
            f"JOIN {paid} p ON p.purchase_id = c.purchase_id"
        )
        conn.exec_driver_sql(f"DROP TABLE {paid}")
        self._excluded = excluded
        if own_grant_id is not None:
            conn.execute(
                text(
                    f"DELETE FROM {excluded} WHERE EXISTS "
                    f"(SELECT 1 FROM grants g WHERE g.grant_id = {own_grant_id(f'{excluded}.purchase_id')})"
                ),
                {"campaign": terms.campaign_id},
            )
        rows = conn.exec_driver_sql(
            f"SELECT campaign_id, COUNT(*) FROM {excluded} GROUP BY campaign_id ORDER BY campaign_id"
        )
        self.counts = {str(campaign): int(n) for campaign, n in rows}
        if not terms.stacking_allowed:
            conn.exec_driver_sql(
                f"DELETE FROM {table} WHERE purchase_id IN (SELECT purchase_id FROM {excluded})"
            )

    def _others_with_grants(self) -> list[str]:
        rows = self._conn.execute(
            text(
                "SELECT campaign_id FROM campaigns WHERE promise_group = :group "
                "AND campaign_id <> :campaign ORDER BY campaign_id"
            ),
            {"group": self._terms.group, "campaign": self._terms.campaign_id},
        ).all()
        probe = text("SELECT 1 FROM grants WHERE campaign_id = :other LIMIT 1")  # the campaign index
        return [row[0] for row in rows if self._conn.execute(probe, {"other": row[0]}).first()]

    @property
    def _left_out(self) -> bool:
        return self._excluded is not None and not self._terms.stacking_allowed

    def put_keys_in_conflict(self, accounts: str, serials: str) -> None:
        """The accounts and devices of left-out purchases count against the limits (``keys``): the
        planner must see every candidate carrying them."""
        if not self._left_out:
            return
        self._conn.exec_driver_sql(
            f"INSERT INTO {accounts} (account_id) SELECT DISTINCT account_id FROM {self._excluded} "
            "WHERE account_id <> '' ON CONFLICT DO NOTHING"  # a WHERE: SQLite reads ON as a join's
        )
        self._conn.exec_driver_sql(
            f"INSERT INTO {serials} (serial) SELECT DISTINCT serial FROM {self._excluded} "
            "WHERE serial <> '' ON CONFLICT DO NOTHING"
        )

    def keys(self) -> Iterator[tuple[str, str]]:
        """(account, serial) of every left-out purchase: it counts against this campaign's limits
        as a grant of its own would, since the customer was paid for it."""
        if not self._left_out:
            return iter(())
        sql = f"SELECT account_id, serial FROM {self._excluded}"
        return ((str(a), str(s)) for a, s in stream_rows(self._conn, sql))

    def tables(self) -> list[str]:
        return [] if self._excluded is None else [self._excluded]
