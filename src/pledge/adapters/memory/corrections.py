"""Corrections in memory (ADR 14), mirroring ``adapters/sqlalchemy/corrections.py``."""

from __future__ import annotations

from collections.abc import Sequence

from pledge.adapters.memory.tables import CorrectionTables, IntegrityError
from pledge.domain.corrections import ClawbackCase, clawback_id
from pledge.domain.grant import OPENED_STATES, Grant, GrantState
from pledge.domain.records import AccountRecord, PurchaseRecord

_LIVE = (GrantState.ISSUED, *OPENED_STATES)


class MemoryCorrections:
    def __init__(self, s: CorrectionTables) -> None:
        self._s = s

    def live_grants_of_accounts(self, account_ids: Sequence[str]) -> list[Grant]:
        wanted = set(account_ids)
        return [g for g in self._s.grants.values() if g.account_id in wanted and g.state in _LIVE]

    def purchases(self, purchase_ids: Sequence[str]) -> dict[str, tuple[PurchaseRecord, AccountRecord]]:
        found: dict[str, tuple[PurchaseRecord, AccountRecord]] = {}
        for purchase_id in purchase_ids:
            purchase = self._s.purchases.get(purchase_id)
            account = None if purchase is None else self._s.accounts.get(purchase.account_id)
            if purchase is not None and account is not None:  # the rule's fields only, as in SQL
                found[purchase_id] = (purchase, AccountRecord(*account[:3]))
        return found

    def open_clawback(self, case: ClawbackCase) -> bool:
        if case.id in self._s.clawbacks:
            return False
        if case.amount_minor <= 0:
            raise IntegrityError("check amount_positive")
        self._s.clawbacks[case.id] = case
        return True

    def clawbacks_of_grants(self, grant_ids: Sequence[str]) -> dict[str, ClawbackCase]:
        cases = (self._s.clawbacks.get(clawback_id(g)) for g in grant_ids)
        return {case.grant_id: case for case in cases if case is not None}

    def clawbacks(
        self, *, campaign_id: str | None, state: str | None, starting_after: str | None, limit: int
    ) -> list[ClawbackCase]:
        found = [
            case
            for case in self._s.clawbacks.values()
            if (not campaign_id or case.campaign_id == campaign_id)
            and (not state or case.state.value == state)
            and (not starting_after or case.id > starting_after)
        ]
        found.sort(key=lambda case: case.id)
        return found[: max(limit, 0)]

    def clawback_totals(self, campaign_id: str) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for case in self._s.clawbacks.values():
            if case.campaign_id == campaign_id:
                n, total = out.get(case.state.value, (0, 0))
                out[case.state.value] = (n + 1, total + case.amount_minor)
        return out
