"""The port every payout rail implements (wallet, WeChat merchant transfer, ...).

A rail speaks to one provider and reads its answers into a
:class:`~pledge.domain.payout_transfers.ProviderAnswer`; it never decides what
to do next. Its one promise: it reports a final outcome (succeeded, failed,
cancelled) only when the provider said so in a reply it could read and trust,
and ``unknown`` otherwise. Sending the same :class:`TransferRequest` twice is
safe: the provider deduplicates by ``request_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pledge.domain.payout_transfers import ProviderAnswer


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
