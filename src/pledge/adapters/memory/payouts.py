"""Payout transfers in memory, mirroring ``adapters/sqlalchemy/payouts.py``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pledge.adapters.memory.state import MemoryStore
from pledge.domain.grant import Grant, GrantState
from pledge.domain.payout_transfers import IN_FLIGHT_STATES, TransferState
from pledge.usecases.payout_ports import PayoutRecord

_DAY_STATES = (*IN_FLIGHT_STATES, TransferState.SUCCEEDED)  # what a day's limits count


class MemoryPayouts:
    def __init__(self, s: MemoryStore) -> None:
        self._s = s

    def add_plan(self, records: Sequence[PayoutRecord]) -> None:
        ids = {r.id for r in records}
        requests = {r.transfer.request_id for r in records}
        taken = {r.transfer.request_id for r in self._s.payouts.values()}
        if len(ids) != len(records) or ids & self._s.payouts.keys() or requests & taken:
            raise ValueError("unique: a transfer or request id of this plan exists")
        if any(r.transfer.amount_minor <= 0 for r in records):
            raise ValueError("check amount_positive")
        self._s.payouts.update((r.id, r) for r in records)

    def unplanned(self, campaign_id: str, after: str, limit: int) -> list[Grant]:
        planned = {r.transfer.grant_id for r in self._s.payouts.values()}
        found = [
            g
            for g in self._s.grants.values()
            if g.campaign_id == campaign_id
            and g.state is GrantState.CLAIMED
            and g.id not in planned
            and g.id > after
        ]
        return sorted(found, key=lambda g: g.id)[: max(limit, 0)]

    def due(self, campaign_id: str, on: date, after: str, limit: int) -> list[PayoutRecord]:
        found = [
            r
            for r in self._s.payouts.values()
            if r.campaign_id == campaign_id
            and r.transfer.state is TransferState.PENDING
            and r.transfer.due_on <= on
            and r.id > after
        ]
        return sorted(found, key=lambda r: r.id)[: max(limit, 0)]

    def in_flight(self, after: str, limit: int) -> list[PayoutRecord]:
        found = [r for r in self._s.payouts.values() if r.transfer.state in IN_FLIGHT_STATES and r.id > after]
        return sorted(found, key=lambda r: r.id)[: max(limit, 0)]

    def get(self, transfer_id: str, *, for_update: bool = False) -> PayoutRecord | None:
        return self._s.payouts.get(transfer_id)

    def by_request(self, request_id: str, *, for_update: bool = False) -> PayoutRecord | None:
        found = [r for r in self._s.payouts.values() if r.transfer.request_id == request_id]
        return found[0] if found else None

    def by_requests(self, request_ids: Sequence[str]) -> dict[str, PayoutRecord]:
        wanted = set(request_ids)
        return {r.transfer.request_id: r for r in self._s.payouts.values() if r.transfer.request_id in wanted}

    def succeeded_sent_between(self, rail: str, first: date, last: date) -> list[PayoutRecord]:
        found = [
            r
            for r in self._s.payouts.values()
            if r.transfer.rail == rail
            and r.transfer.state is TransferState.SUCCEEDED
            and r.sent_on is not None
            and first <= r.sent_on <= last
        ]
        return sorted(found, key=lambda r: r.id)

    def of_grant(self, grant_id: str) -> list[PayoutRecord]:
        return sorted(
            (r for r in self._s.payouts.values() if r.transfer.grant_id == grant_id), key=lambda r: r.id
        )

    def campaign_totals(self, campaign_id: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._s.payouts.values():
            if r.campaign_id == campaign_id:
                out[r.transfer.state.value] = out.get(r.transfer.state.value, 0) + r.transfer.amount_minor
        return out

    def update(self, record: PayoutRecord) -> None:
        if record.id not in self._s.payouts:
            return
        if any(
            r.transfer.request_id == record.transfer.request_id and r.id != record.id
            for r in self._s.payouts.values()
        ):
            raise ValueError(f"unique: request id {record.transfer.request_id} exists")
        self._s.payouts[record.id] = record

    def update_many(self, records: Sequence[PayoutRecord]) -> None:
        for record in records:
            self.update(record)

    def day_usage(
        self, rail: str, account_ids: Sequence[str], day: date, *, merchant: bool
    ) -> tuple[dict[str, tuple[int, int]], int]:
        sent = [
            r
            for r in self._s.payouts.values()
            if r.transfer.rail == rail and r.sent_on == day and r.transfer.state in _DAY_STATES
        ]
        usage: dict[str, tuple[int, int]] = {}
        for account_id in account_ids:
            mine = [r.transfer.amount_minor for r in sent if r.account_id == account_id]
            usage[account_id] = (sum(mine), len(mine))
        return usage, sum(r.transfer.amount_minor for r in sent) if merchant else 0

    def openids(self, account_ids: Sequence[str]) -> dict[str, str]:
        found = {a: self._s.accounts.get(a) for a in account_ids}
        return {a: record.wechat_openid if record else "" for a, record in found.items()}

    def lock_day(self, rail: str, account_ids: Sequence[str], day: date, *, merchant: bool) -> None:
        return  # one process, one unit of work at a time: nothing to wait for

    def page(
        self,
        *,
        campaign_id: str | None,
        grant_id: str | None,
        state: str | None,
        starting_after: str | None,
        limit: int,
    ) -> list[PayoutRecord]:
        found = [
            r
            for r in self._s.payouts.values()
            if (not campaign_id or r.campaign_id == campaign_id)
            and (not grant_id or r.transfer.grant_id == grant_id)
            and (not state or r.transfer.state.value == state)
            and (not starting_after or r.id > starting_after)
        ]
        return sorted(found, key=lambda r: r.id)[: max(limit, 0)]

    def totals(self) -> dict[tuple[str, str, str], int]:
        out: dict[tuple[str, str, str], int] = {}
        for r in self._s.payouts.values():
            key = (r.transfer.rail, r.transfer.currency, r.transfer.state.value)
            out[key] = out.get(key, 0) + r.transfer.amount_minor
        return out
