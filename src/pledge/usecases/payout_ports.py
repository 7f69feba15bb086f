"""The port every payout rail implements (wallet, WeChat merchant transfer, ...).

A rail speaks to one provider and reads its answers into a
:class:`~pledge.domain.payout_transfers.ProviderAnswer`; it never decides what
to do next. Its one promise: it reports a final outcome (succeeded, failed,
cancelled) only when the provider said so in a reply it could read and trust,
and ``unknown`` otherwise. Sending the same :class:`TransferRequest` twice is
safe: the provider deduplicates by ``request_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from pledge.domain.grant import Grant
from pledge.domain.payout_transfers import ProviderAnswer, Transfer


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """One attempt at one transfer, exactly as sent, every time it is sent."""

    request_id: str  # the idempotency key: WeChat out_bill_no, wallet credit_id
    payee: str  # who receives: the account id (wallet), the WeChat openid (wechat_transfer)
    amount_minor: int
    currency: str
    memo: str  # what the customer reads beside the money


class PayoutRail(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, request: TransferRequest) -> ProviderAnswer:
        """Ask the provider to pay; resending the same request never pays twice."""
        ...

    def query(self, request: TransferRequest) -> ProviderAnswer:
        """Ask the provider what became of ``request.request_id``.

        ``not_found`` means the provider has never seen it; an answer about the
        same id with another amount or payee is ``unknown`` (``id_conflict``).
        """
        ...


@dataclass(frozen=True, slots=True)
class PayoutRecord:
    """A stored transfer: the domain's :class:`Transfer` and what the dispatcher keeps beside it."""

    transfer: Transfer
    campaign_id: str
    account_id: str
    attempts: int = 0  # requests sent to the provider, over every attempt (resends included)
    sent_on: date | None = None  # the local date the current attempt first went out
    created_at_us: int = 0
    updated_at_us: int = 0

    @property
    def id(self) -> str:
        return self.transfer.id


class PayoutTransfers(Protocol):
    """The stored payout plans and their transfers (``payout_transfers``)."""

    def add_plan(self, records: Sequence[PayoutRecord]) -> None:
        """Store a grant's planned transfers; a grant is planned once (the keys refuse a second plan)."""
        ...

    def unplanned(self, campaign_id: str, after: str, limit: int) -> list[Grant]:
        """Up to ``limit`` claimed grants of the campaign with no transfer yet and an id after
        ``after``, in id order."""
        ...

    def due(self, campaign_id: str, on: date, after: str, limit: int) -> list[PayoutRecord]:
        """Pending transfers of the campaign due on or before ``on`` with an id after ``after``, in id
        order, locked for this transaction.

        Rows another transaction holds are skipped (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
        SQLite has a single writer), so several dispatchers never take the same transfer.
        """
        ...

    def in_flight(self, after: str, limit: int) -> list[PayoutRecord]:
        """Submitted, unknown and waiting transfers with an id after ``after``, in id order, locked
        like :meth:`due`."""
        ...

    def get(self, transfer_id: str, *, for_update: bool = False) -> PayoutRecord | None: ...
    def by_request(self, request_id: str, *, for_update: bool = False) -> PayoutRecord | None:
        """The transfer whose current attempt has this request id (a callback names only that)."""
        ...

    def by_requests(self, request_ids: Sequence[str]) -> dict[str, PayoutRecord]:
        """The transfers whose current attempt has one of these request ids, by request id."""
        ...

    def succeeded_sent_between(self, rail: str, first: date, last: date) -> list[PayoutRecord]:
        """Succeeded transfers on ``rail`` first sent on a local date in ``first..last``, in id order."""
        ...

    def of_grant(self, grant_id: str) -> list[PayoutRecord]:
        """A grant's transfers, in plan order."""
        ...

    def campaign_totals(self, campaign_id: str) -> dict[str, int]:
        """Amount per transfer state over the campaign's transfers (``campaign report``)."""
        ...

    def update(self, record: PayoutRecord) -> None: ...
    def update_many(self, records: Sequence[PayoutRecord]) -> None:
        """Store several transfers' new states in one statement."""
        ...

    def day_usage(
        self, rail: str, account_ids: Sequence[str], day: date, *, merchant: bool
    ) -> tuple[dict[str, tuple[int, int]], int]:
        """What ``day`` already carries on ``rail``: each account's amount and count of transfers
        sent and not failed, and (when ``merchant``, else 0) the merchant's amount."""
        ...

    def openids(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Each account's WeChat openid ("" when it has none or is unknown)."""
        ...

    def lock_day(self, rail: str, account_ids: Sequence[str], day: date, *, merchant: bool) -> None:
        """Hold, until this transaction ends, the right to add to ``day``'s usage on ``rail`` of these
        accounts (and of the merchant's whole day when ``merchant``), taken in one fixed order.

        Another dispatcher asking for any of them waits until this one has committed, then reads
        :meth:`day_usage` with what this one sent: two dispatchers never both fill an account's
        last room of the day (ADR 32). PostgreSQL: transaction advisory locks; SQLite: its single
        writer already serializes every transaction.
        """
        ...

    def page(
        self,
        *,
        campaign_id: str | None,
        grant_id: str | None,
        state: str | None,
        starting_after: str | None,
        limit: int,
    ) -> list[PayoutRecord]: ...
    def totals(self) -> dict[tuple[str, str, str], int]:
        """Amount per (rail, currency, state) over every transfer: what the ledger must agree with."""
        ...


class RequestPace(Protocol):
    """How fast requests may leave for each rail, one limit for every dispatcher on the database (ADR 32)."""

    def wait_turn(self, rail: str) -> None:
        """Return once one more request to ``rail`` may leave (at once when the rail has no limit)."""
        ...
