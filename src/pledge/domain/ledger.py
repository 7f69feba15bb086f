"""A double-entry ledger of immutable transfers, hash-chained.

Like TigerBeetle, every movement is one *transfer* of a positive integer
amount of one asset from a debit account to a credit account, so each entry
balances by construction and the sum of all balances per asset is always 0.
Entries are never edited; a mistake is corrected by a new transfer. Each
transfer's hash covers its content and the previous hash, so editing or
deleting any stored entry breaks the chain at that point (``ledger verify``).
The transfer id is chosen by the caller and is its idempotency key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from pledge.domain.errors import InvariantViolation

GENESIS_HASH = "0" * 64


class Transfer(NamedTuple):
    id: str  # caller-chosen, unique: the idempotency key
    debit_account: str
    credit_account: str
    asset: str
    amount: int
    kind: str  # fund, issue, claim, expire, revoke, ...
    ref: str  # what it is about (grant id, campaign id)
    at_us: int


def check_transfer(transfer: Transfer) -> None:
    if not isinstance(transfer.amount, int) or transfer.amount <= 0:
        raise InvariantViolation(f"transfer {transfer.id}: amount must be a positive integer")
    if transfer.debit_account == transfer.credit_account:
        raise InvariantViolation(f"transfer {transfer.id}: debit and credit accounts are the same")


def chain_hash(prev_hash: str, seq: int, transfer: Transfer) -> str:
    """The hash of one entry: its position, its content and the hash before it."""
    t = transfer
    line = (
        f"{seq}\x1f{prev_hash}\x1f{t.id}\x1f{t.debit_account}\x1f{t.credit_account}\x1f{t.asset}"
        f"\x1f{t.amount}\x1f{t.kind}\x1f{t.ref}\x1f{t.at_us}"
    )
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


class ChainedTransfer(NamedTuple):
    seq: int
    transfer: Transfer
    prev_hash: str
    hash: str


def chain(transfers: Iterable[Transfer], head_seq: int, head_hash: str) -> list[ChainedTransfer]:
    """Number and hash transfers after the current head."""
    out: list[ChainedTransfer] = []
    seq, prev = head_seq, head_hash
    for transfer in transfers:
        check_transfer(transfer)
        seq += 1
        digest = chain_hash(prev, seq, transfer)
        out.append(ChainedTransfer(seq, transfer, prev, digest))
        prev = digest
    return out


@dataclass
class ChainVerifier:
    """Streams stored entries in sequence order and reports the first break."""

    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    balances: dict[tuple[str, str], int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    max_problems: int = 20

    def report(self, text: str) -> None:
        """Record a problem found outside the chain (books against other records), capped like the rest."""
        if len(self.problems) < self.max_problems:
            self.problems.append(text)

    def feed(self, entry: ChainedTransfer) -> None:
        self.entries += 1
        t = entry.transfer
        if entry.seq != self.expected_seq:
            self.report(f"entry {entry.seq}: expected sequence {self.expected_seq} (an entry is missing)")
        if entry.prev_hash != self.prev_hash:
            self.report(f"entry {entry.seq} ({t.id}): previous hash does not match the entry before it")
        if chain_hash(entry.prev_hash, entry.seq, t) != entry.hash:
            self.report(f"entry {entry.seq} ({t.id}): content does not match its hash (edited)")
        if t.amount <= 0 or t.debit_account == t.credit_account:
            self.report(f"entry {entry.seq} ({t.id}): not a valid transfer")
        self.balances[(t.debit_account, t.asset)] = (
            self.balances.get((t.debit_account, t.asset), 0) - t.amount
        )
        self.balances[(t.credit_account, t.asset)] = (
            self.balances.get((t.credit_account, t.asset), 0) + t.amount
        )
        self.expected_seq = entry.seq + 1
        self.prev_hash = entry.hash

    def finish(self, head_seq: int, head_hash: str) -> None:
        if head_seq != self.expected_seq - 1 or head_hash != self.prev_hash:
            self.report(
                f"ledger head says entry {head_seq} but the chain ends at {self.expected_seq - 1} "
                "(entries deleted at the end, or the head was edited)"
            )
        totals: dict[str, int] = {}
        for (_account, asset), balance in self.balances.items():
            totals[asset] = totals.get(asset, 0) + balance
        for asset, total in sorted(totals.items()):
            if total != 0:
                self.report(f"asset {asset}: balances sum to {total}, not 0")

    def balance(self, account: str, asset: str) -> int:
        return self.balances.get((account, asset), 0)


# Ledger account names, in one place so every writer agrees.
def budget_account(campaign_id: str) -> str:
    return f"campaign:{campaign_id}:budget"


def funding_account(campaign_id: str) -> str:
    return f"campaign:{campaign_id}:funding"


def grants_account(campaign_id: str) -> str:
    """What the campaign owes customers for issued, unopened red envelopes."""
    return f"campaign:{campaign_id}:grants"


def customer_account(account_id: str) -> str:
    return f"customer:{account_id}:wallet"


def clawbacks_account(campaign_id: str) -> str:
    """What customers owe a campaign back for opened grants whose purchase stopped qualifying."""
    return f"campaign:{campaign_id}:clawbacks"


def customer_owes_account(account_id: str) -> str:
    """The customer's side of a claw-back receivable (negative: what they owe)."""
    return f"customer:{account_id}:owes"


# Subscriptions: money and service time ("DAYS", its own asset).
DAYS = "DAYS"
REVENUE = "revenue:subscriptions"


def customer_payments_account(account_id: str) -> str:
    """Money the customer paid us (debited on payment, credited on refund)."""
    return f"customer:{account_id}:payments"


def customer_service_account(account_id: str) -> str:
    """Service days the customer holds."""
    return f"customer:{account_id}:service"


def service_pool_account(plan_id: str) -> str:
    return f"service:{plan_id}"


def discounts_account(campaign_id: str) -> str:
    """What an offer gave away: money below list price, and free days."""
    return f"campaign:{campaign_id}:discounts"


def compensation_account(campaign_id: str) -> str:
    return f"campaign:{campaign_id}:compensation"


# Payouts (ADR 24): claimed money leaves the customer's wallet account for the rail's clearing
# account when a transfer is sent, and reaches "paid out" only when the provider says it paid.
def payouts_in_transit_account(rail: str) -> str:
    """Money sent to a rail whose outcome the provider has not confirmed yet."""
    return f"payouts:{rail}:in_transit"


def payouts_paid_account(rail: str) -> str:
    """Money a rail's provider confirmed as paid to customers."""
    return f"payouts:{rail}:paid_out"
