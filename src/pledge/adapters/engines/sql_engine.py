"""What every SQL selection engine shares (ADR 29): the window and rule, the dry run's scans.

An engine exposes the history as a relation ``purchases`` shaped like Pledge's own table (the
account fields a rule reads beside each purchase) and runs SQL on it; everything here is then
the rule compiler's dialect for the engine and the queries ``SqlPurchases`` runs on imported
purchases, with the same meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pledge.adapters.sqlalchemy.benefit_sql import exceeds_price_sql
from pledge.adapters.sqlalchemy.rule_sql import PLEDGE_COLUMNS, compile_condition_sql
from pledge.adapters.sqlalchemy.rule_sql_dialects import DIALECTS
from pledge.domain.benefit import Benefit
from pledge.domain.near_miss import only_failure
from pledge.usecases.scan_ports import NearMiss, ScanCounts, Selection

ORDER = "ORDER BY p.purchased_at_us, p.purchase_id"


class SqlEngine:
    name: str

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    # -- the window and the rule ------------------------------------------------
    def _tests(self, selection: Selection) -> list[str]:
        window = selection.window
        tests = [
            f"(p.purchased_at_us >= {int(window.start_us)} AND p.purchased_at_us < {int(window.end_us)})"
        ]
        for index, condition in enumerate(selection.conditions):
            sql, _ = compile_condition_sql(
                condition.node, self.name, PLEDGE_COLUMNS, prefix=f"c{index}_", inline=True
            )
            tests.append(sql)
        return tests

    def rule_sql(self, selection: Selection) -> str:
        return " AND ".join(self._tests(selection))

    # -- scans ------------------------------------------------------------------
    def scan(self, selection: Selection) -> ScanCounts:
        """One pass, each row's failed conditions as a bit mask, counted per mask (as SqlPurchases)."""
        tests = self._tests(selection)
        names = ["purchased", *(c.name for c in selection.conditions)]
        flags = ", ".join(f"CASE WHEN {t} THEN 0 ELSE 1 END AS f{i}" for i, t in enumerate(tests))
        keys = ", ".join(f"f{i}" for i in range(len(tests)))
        counts = ScanCounts()
        rejections, near = [0] * len(tests), [0] * len(tests)
        currency = DIALECTS[self.name].string_literal(selection.currency)
        sql = (
            f"SELECT {keys}, other, COUNT(*) FROM (SELECT {flags}, CASE WHEN p.currency <> {currency} THEN 1 "
            f"ELSE 0 END AS other FROM purchases p) s GROUP BY {keys}, other"
        )
        for row in self._rows(sql):
            *bits, other, n = (int(v) for v in row)
            failed = [i for i, bit in enumerate(bits) if bit]
            counts.evaluated += n
            for index in failed:
                rejections[index] += n
            if not failed:
                counts.qualifying += n
                counts.other_currency += n * other
            elif (only := only_failure(failed)) is not None:
                near[only] += n
        counts.rejections = dict(zip(names, rejections, strict=True))
        counts.near_misses_by_condition = dict(zip(names, near, strict=True))
        return counts

    def near_misses(self, selection: Selection, limit: int) -> list[NearMiss]:
        """Inside the window failing one rule condition, by time; then passing the rule outside the
        window, nearest first (``pledge.domain.near_miss.listing_key``)."""
        if limit <= 0:
            return []
        tests = self._tests(selection)
        names = ["purchased", *(c.name for c in selection.conditions)]
        start, end = int(selection.window.start_us), int(selection.window.end_us)
        flags = [f"(CASE WHEN {t} THEN 0 ELSE 1 END)" for t in tests[1:]]
        failing = " + ".join(flags) if flags else "0"
        found: list[NearMiss] = []
        if flags:
            listed = ", ".join(flags)
            for row in self._rows(
                f"SELECT p.purchase_id, p.account_id, p.purchased_at_us, {listed} FROM purchases p "
                f"WHERE {tests[0]} AND ({failing}) = 1 {ORDER} LIMIT {int(limit)}"
            ):
                failed = next(i for i, flag in enumerate(row[3:], start=1) if flag)
                found.append(NearMiss(row[0], row[1], names[failed], int(row[2])))
        need = limit - len(found)
        if need > 0:
            outside = (
                f"CASE WHEN p.purchased_at_us < {start} THEN {start} - p.purchased_at_us "
                f"ELSE p.purchased_at_us - {end} + 1 END"
            )
            for row in self._rows(
                f"SELECT p.purchase_id, p.account_id, p.purchased_at_us FROM purchases p "
                f"WHERE NOT {tests[0]} AND ({failing}) = 0 "
                f"ORDER BY {outside}, p.purchased_at_us, p.purchase_id LIMIT {int(need)}"
            ):
                found.append(NearMiss(row[0], row[1], names[0], int(row[2])))
        return found

    def overpaid(self, selection: Selection, benefit: Benefit, limit: int) -> tuple[int, list[str]]:
        overpaid = exceeds_price_sql(benefit, self.name, "p.price_minor", "p.purchased_at_us")
        where = f"{self.rule_sql(selection)} AND {overpaid}"
        count = self._rows(f"SELECT COUNT(*) FROM purchases p WHERE {where}")[0][0]
        ids = self._rows(f"SELECT p.purchase_id FROM purchases p WHERE {where} {ORDER} LIMIT {int(limit)}")
        return int(count), [row[0] for row in ids]
