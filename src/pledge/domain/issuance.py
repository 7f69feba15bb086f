"""Deciding, purchase by purchase, who is granted what.

Candidates arrive in the one deterministic order (purchase time, then id).
Each is granted if its account and its serial are still under their limits
and the budget covers it; the first one the budget cannot cover stops
issuance, and every later candidate is counted as ``budget_exhausted`` (never
partially paid, never skipped in favour of a cheaper one further down).
The same planner serves the dry run and the real run, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from typing import NamedTuple

from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InvariantViolation


class Candidate(NamedTuple):
    """A purchase that passed every condition of the rule and the window."""

    purchase_id: str
    account_id: str
    serial: str
    purchased_at_us: int
    price_minor: int
    currency: str


class Decision(StrEnum):
    GRANT = "grant"
    PER_ACCOUNT = "per_account"
    PER_SERIAL = "per_serial"
    BUDGET_EXHAUSTED = "budget_exhausted"
    ALREADY_GRANTED = "already_granted"
    EXCEEDS_PRICE = "exceeds_price_paid"  # never granted: a refund can never exceed the price paid
    EARNS_NOTHING = "earns_nothing"  # never granted: the amount for this price is zero (a free item)


def _compact(key: str) -> int | str:
    """A lossless, smaller stand-in for a short ASCII key (an account id, a serial number).

    At ten million grants the planner holds one key per grant and per limit, so the size of each
    key decides whether a run fits in 2 GB. The usual shapes become an int of at most 60 bits
    (32 bytes, against 57-64 for the string): digits read in base 10 (a device serial), upper-
    or lower-case letters with digits read in base 36 (an account id). Anything else ASCII keeps
    its bytes as an int; longer or non-ASCII keys stay strings. The value is tagged with the
    key's length (so leading zeros count) and, in its two lowest bits, with how it was read (so
    no two readings collide); an int never equals a string.
    """
    size = len(key)
    if size > _COMPACT_MAX or not key.isascii():
        return key
    if key.isdigit():
        return (int(key) << 5 | size) << 2
    if key.isalnum() and (key.isupper() or key.islower()):  # one case only: base 36 ignores case
        return (int(key, 36) << 5 | size) << 2 | (1 if key.isupper() else 2)
    return (int.from_bytes(key.encode(), "big") << 5 | size) << 2 | 3


_COMPACT_MAX = 31  # characters; the length tag takes 5 bits


class _Limit:
    """Grants so far per key (account or serial) against a limit.

    Only what the limit needs is kept. Nothing without a limit. When ``tracked`` names the only
    keys that can ever reach the limit (those with more purchases than it allows), a count for
    each of them and no other: at the seed's scale a quarter of the accounts and a few thousand
    serials instead of one entry per grant. Without it, a set of every key granted for a limit of
    one (the usual "one per person, one per device"), counts otherwise.
    """

    __slots__ = ("counts", "every_key", "limit", "seen")

    def __init__(
        self, limit: int | None, start: dict[str, int], tracked: Iterable[str] | None = None
    ) -> None:
        self.limit = limit
        self.every_key = tracked is None
        self.seen: set[int | str] = set()
        self.counts: dict[int | str, int] = {}
        if limit is None:
            return
        if tracked is not None:
            self.counts = dict.fromkeys(map(_compact, tracked), 0)
        elif limit == 1:
            self.seen = {_compact(k) for k, n in start.items() if n > 0}
            return
        for key, n in start.items():  # grants already issued: their keys are always counted
            self.counts[_compact(key)] = n

    def reached(self, key: str) -> bool:
        if self.limit is None:
            return False
        if self.every_key and self.limit == 1:
            return _compact(key) in self.seen
        return self.counts.get(_compact(key), 0) >= self.limit

    def add(self, key: str) -> None:
        if self.limit is None:
            return
        compact = _compact(key)
        if not self.every_key:
            if compact in self.counts:  # an untracked key cannot reach the limit: nothing to keep
                self.counts[compact] += 1
        elif self.limit == 1:
            self.seen.add(compact)
        else:
            self.counts[compact] = self.counts.get(compact, 0) + 1


@dataclass
class IssuancePlanner:
    """Greedy, order-preserving issuance with limits and a hard budget.

    ``account_counts``/``serial_counts`` start from grants already issued, so a
    re-run continues where the last one stopped and never issues twice.
    ``tracked_accounts``/``tracked_serials``, when given, are every key that has more
    purchases than its limit allows (any purchase, qualifying or not): no other key can
    reach its limit, so no other key is remembered.
    """

    terms: CashbackTerms
    budget_remaining_minor: int
    account_counts: InitVar[dict[str, int] | None] = None
    serial_counts: InitVar[dict[str, int] | None] = None
    granted_purchases: frozenset[str] | set[str] = field(default_factory=frozenset)
    tracked_accounts: InitVar[Iterable[str] | None] = None
    tracked_serials: InitVar[Iterable[str] | None] = None
    exhausted: bool = False
    last_key: tuple[int, str] | None = None
    _accounts: _Limit = field(init=False)
    _serials: _Limit = field(init=False)

    def __post_init__(
        self,
        account_counts: dict[str, int] | None,
        serial_counts: dict[str, int] | None,
        tracked_accounts: Iterable[str] | None,
        tracked_serials: Iterable[str] | None,
    ) -> None:
        self._accounts = _Limit(self.terms.per_account, account_counts or {}, tracked_accounts)
        self._serials = _Limit(self.terms.per_serial, serial_counts or {}, tracked_serials)

    def decide(self, candidate: Candidate) -> tuple[Decision, int]:
        """Return the decision and the amount granted (0 unless GRANT)."""
        at_us, purchase_id = candidate.purchased_at_us, candidate.purchase_id
        last = self.last_key
        if last is not None and (at_us < last[0] or (at_us == last[0] and purchase_id <= last[1])):
            raise InvariantViolation(f"candidates out of order at purchase {purchase_id}")
        self.last_key = (at_us, purchase_id)
        if purchase_id in self.granted_purchases:
            return Decision.ALREADY_GRANTED, 0
        if self._accounts.reached(candidate.account_id):
            return Decision.PER_ACCOUNT, 0
        # An empty serial identifies no device, so it never collides with another purchase.
        serial = candidate.serial
        if serial and self._serials.reached(serial):
            return Decision.PER_SERIAL, 0
        benefit = self.terms.benefit
        amount = benefit.grant_minor(candidate.price_minor, at_us)
        if amount is None:
            if not benefit.earns(candidate.price_minor, at_us):
                return Decision.EARNS_NOTHING, 0
            return Decision.EXCEEDS_PRICE, 0
        if self.exhausted or amount > self.budget_remaining_minor:
            self.exhausted = True
            return Decision.BUDGET_EXHAUSTED, 0
        self.budget_remaining_minor -= amount
        assert self.budget_remaining_minor >= 0
        self._accounts.add(candidate.account_id)
        if serial:
            self._serials.add(serial)
        return Decision.GRANT, amount


def conflict_keys(
    candidates: Iterable[Candidate],
    per_account: int | None,
    per_serial: int | None,
    prior_accounts: Iterable[str] = (),
    prior_serials: Iterable[str] = (),
    prior_purchases: Iterable[str] = (),
) -> tuple[set[str], set[str]]:
    """The accounts and serials through which one candidate's fate can depend on another's (ADR 11).

    A key is in conflict if more candidates carry it than its limit allows, or if it already has a
    grant (``prior_*``: the campaign's earlier runs). So is the account of a candidate whose
    purchase already has a grant, wherever that grant was booked (the purchase may have moved to
    another account since): the planner must see it, to refuse it as already granted. A candidate
    carrying no key in conflict is
    *free*: no limit can refuse it whatever order it comes in, so it is granted unless the budget
    runs out, and the planner never needs to see it. Only the others, the conflicting candidates,
    need the ordered, one-by-one decision; their keys are disjoint from the free ones' for every
    limit that can bind, so the two sets never influence each other except through the budget.
    """
    candidates = list(candidates)
    by_account: dict[str, int] = {}
    by_serial: dict[str, int] = {}
    for candidate in candidates:
        by_account[candidate.account_id] = by_account.get(candidate.account_id, 0) + 1
        if candidate.serial:
            by_serial[candidate.serial] = by_serial.get(candidate.serial, 0) + 1
    accounts = set(prior_accounts)
    serials = {serial for serial in prior_serials if serial}
    granted = set(prior_purchases)
    if granted:
        accounts.update(c.account_id for c in candidates if c.purchase_id in granted)
    if per_account is not None:
        accounts.update(key for key, n in by_account.items() if n > per_account)
    if per_serial is not None:
        serials.update(key for key, n in by_serial.items() if n > per_serial)
    return accounts, serials


def ranked_accounts(
    candidates: Iterable[Candidate],
    per_account: int | None,
    serials: set[str],
    prior_accounts: Iterable[str] = (),
    prior_purchases: Iterable[str] = (),
) -> set[str]:
    """The accounts in conflict whose candidates are decided by their rank in the account alone.

    An account is one of them when only its own number of candidates puts it in conflict (no
    earlier grant of the campaign, no purchase paid elsewhere: ``prior_accounts``; none of its
    candidates granted before: ``prior_purchases``) and none of its candidates carries a serial in
    conflict (``serials``, from ``conflict_keys``). Unless the budget runs out, its candidates'
    fate then depends on each other only: in (time, id) order, each one that earns is granted until
    the account reaches its limit, and every later one is refused as ``per_account``. The store can
    decide them in bulk, with a window over the account (ADR 39), and the planner never sees them.
    """
    if per_account is None:
        return set()
    candidates = list(candidates)
    by_account: dict[str, int] = {}
    for candidate in candidates:
        by_account[candidate.account_id] = by_account.get(candidate.account_id, 0) + 1
    granted = set(prior_purchases)
    ruled_out = set(prior_accounts)
    ruled_out.update(c.account_id for c in candidates if c.purchase_id in granted)
    ruled_out.update(c.account_id for c in candidates if c.serial and c.serial in serials)
    return {key for key, n in by_account.items() if n > per_account and key not in ruled_out}


def is_free(candidate: Candidate, accounts: set[str], serials: set[str]) -> bool:
    """No key of ``candidate`` is in conflict (see ``conflict_keys``)."""
    return candidate.account_id not in accounts and not (candidate.serial and candidate.serial in serials)
