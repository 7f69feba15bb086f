"""What one qualifying purchase earns: the benefit amount and its guards, as one small expression.

The amount is a tree (like a rule's, ``pledge.domain.rules``): the price paid, a fixed amount, a
percentage of the price paid, a cap. It has one Python evaluation (``Benefit.amount_minor``,
compiled once to a closure: the planner calls it per candidate) and one SQL rendering, on the
adapter side (``pledge.adapters.sqlalchemy.benefit_sql``), checked against it differentially
(``tests/integration/test_benefit_differential.py``). Every place that needs an amount, or asks
whether a purchase can be paid, asks a ``Benefit``; none spells the formula again.

The guards, in one place:

- **Never above the price paid.** A refund can never exceed what was paid: an amount above the
  price is never granted (``within_price``), and where the amount does not follow the price (a
  fixed amount) the purchases it would overpay block a launch (``may_exceed_price``).
- **Never nothing.** A purchase that would earn nothing (a free item refunded at its price, a
  percentage of a few fen that rounds to zero) is not granted: a grant of nothing is no promise,
  and the ledger refuses a zero transfer. It is left out for that reason (``earns_from_minor`` is
  the lowest price that earns anything), never refused as an overpayment.
- **Never negative.** Every literal is checked on construction; a percentage is 0..100 %.
- **Rounding.** A percentage rounds down to the minor unit, so a promise of 5 % never pays more
  than 5 %; computed as ``(p div 10000) * bp + (p mod 10000) * bp div 10000``, which is exact and
  never overflows a 64-bit integer in SQL for any price that fits one.
- **Currency.** A grant is paid in the terms' currency; a purchase in another one blocks a launch.

Tiers (several windows, each with its own amount and cap, ADR 34) are a choice by purchase time
between amounts: the first tier whose window holds the purchase gives its amount; a purchase no
tier holds earns nothing. In SQL a ``CASE`` over ``purchased_at_us``; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BASIS_POINTS = 10_000  # 100 %


class _Amount:
    """An amount expression over the price paid (minor units)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class PricePaid(_Amount):
    """The price actually paid: a full refund."""


@dataclass(frozen=True, slots=True)
class Fixed(_Amount):
    """The same amount for every purchase, whatever its price."""

    amount_minor: int

    def __post_init__(self) -> None:
        _not_negative(self.amount_minor, "a fixed amount")


@dataclass(frozen=True, slots=True)
class Percent(_Amount):
    """``basis_points`` / 10 000 of the price paid, rounded down to the minor unit."""

    basis_points: int

    def __post_init__(self) -> None:
        if not 0 <= self.basis_points <= BASIS_POINTS:
            raise ValueError(f"a percentage is 0 to {BASIS_POINTS} basis points, not {self.basis_points}")


@dataclass(frozen=True, slots=True)
class Capped(_Amount):
    """``amount``, but never more than ``cap_minor`` (``max_amount``)."""

    amount: Amount
    cap_minor: int

    def __post_init__(self) -> None:
        _not_negative(self.cap_minor, "a cap")


Amount = PricePaid | Fixed | Percent | Capped


def within_price(amount_minor: int, price_minor: int) -> bool:
    """The guard itself: no grant is ever worth more than the price paid for its purchase."""
    return amount_minor <= price_minor


def _not_negative(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is a non-negative integer of minor units, not {value!r}")


def evaluate(amount: Amount, price_minor: int) -> int:
    """The amount for one price (the reference; ``compile_amount`` is the same, faster)."""
    if isinstance(amount, PricePaid):
        return price_minor
    if isinstance(amount, Fixed):
        return amount.amount_minor
    if isinstance(amount, Percent):
        return percent_of(price_minor, amount.basis_points)
    if isinstance(amount, Capped):
        return min(evaluate(amount.amount, price_minor), amount.cap_minor)
    raise TypeError(f"not an amount: {amount!r}")


def percent_of(price_minor: int, basis_points: int) -> int:
    """``price × bp / 10 000`` rounded down, split so that SQL never forms ``price × bp``."""
    whole, part = divmod(price_minor, BASIS_POINTS)
    return whole * basis_points + part * basis_points // BASIS_POINTS


def earns_from(amount: Amount) -> int | None:
    """The lowest price that earns at least one minor unit, or None when no price does. Every
    amount is non-decreasing in the price, so "earns something" is "price >= this"."""
    if isinstance(amount, PricePaid):
        return 1
    if isinstance(amount, Fixed):
        return 0 if amount.amount_minor > 0 else None
    if isinstance(amount, Percent):  # floor(p * bp / 10 000) >= 1  <=>  p >= ceil(10 000 / bp)
        return None if amount.basis_points == 0 else -(-BASIS_POINTS // amount.basis_points)
    if isinstance(amount, Capped):
        return earns_from(amount.amount) if amount.cap_minor > 0 else None
    raise TypeError(f"not an amount: {amount!r}")


def compile_amount(amount: Amount) -> Callable[[int], int]:
    """``evaluate`` as one closure per tree: no walk per candidate."""
    if isinstance(amount, PricePaid):
        return _identity
    if isinstance(amount, Fixed):
        value = amount.amount_minor
        return lambda _price: value
    if isinstance(amount, Percent):
        bp = amount.basis_points
        return lambda price: percent_of(price, bp)
    if isinstance(amount, Capped):
        inner, cap = compile_amount(amount.amount), amount.cap_minor
        if isinstance(amount.amount, Fixed):
            constant = min(amount.amount.amount_minor, cap)
            return lambda _price: constant
        if isinstance(amount.amount, PricePaid):
            return lambda price: price if price < cap else cap
        return lambda price: min(inner(price), cap)
    raise TypeError(f"not an amount: {amount!r}")


def _identity(price_minor: int) -> int:
    return price_minor


def constant_of(amount: Amount) -> int | None:
    """The amount when it does not depend on the price paid, else None."""
    if isinstance(amount, Fixed):
        return amount.amount_minor
    if isinstance(amount, Capped):
        inner = constant_of(amount.amount)
        return None if inner is None else min(inner, amount.cap_minor)
    return None


def upper_bound_of(amount: Amount) -> int | None:
    """The most any one grant can be, or None when only the price paid bounds it."""
    if isinstance(amount, Fixed):
        return amount.amount_minor
    if isinstance(amount, Capped):
        inner = upper_bound_of(amount.amount)
        return amount.cap_minor if inner is None else min(inner, amount.cap_minor)
    return None


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of a tiered campaign: purchases made in ``[start_us, end_us)`` earn ``amount``."""

    id: str
    start_us: int
    end_us: int  # exclusive
    amount: Amount

    def holds(self, at_us: int) -> bool:
        return self.start_us <= at_us < self.end_us


MAX_TIERS = 20


@dataclass(frozen=True, slots=True)
class Benefit:
    """The amount expression of one terms version, in its currency, with its guards.

    Either one ``amount`` for every purchase, or ``tiers`` (then ``amount`` is None): the first
    tier whose window holds the purchase instant decides, and a purchase no tier holds earns
    nothing. Every question takes the purchase's price and its instant (``at_us``).
    """

    amount: Amount | None
    currency: str
    tiers: tuple[Tier, ...] = ()
    _compiled: Callable[[int], int] = field(init=False, repr=False, compare=False)
    _tiers: tuple[tuple[int, int, Callable[[int], int]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.amount is None) == (not self.tiers):
            raise ValueError("a benefit has either one amount or tiers, not both and not neither")
        if len(self.tiers) > MAX_TIERS:
            raise ValueError(f"at most {MAX_TIERS} tiers, not {len(self.tiers)}")
        amounts = [t.amount for t in self.tiers] if self.amount is None else [self.amount]
        object.__setattr__(self, "_compiled", compile_amount(amounts[0]))
        compiled = tuple((t.start_us, t.end_us, compile_amount(t.amount)) for t in self.tiers)
        object.__setattr__(self, "_tiers", compiled)

    @classmethod
    def of(cls, fixed_minor: int | None, cap_minor: int | None, currency: str) -> Benefit:
        """The terms' ``amount`` (None: ``price_paid``) and ``max_amount`` (None: no cap)."""
        return cls(amount_of(fixed_minor, cap_minor), currency)

    @property
    def tiered(self) -> bool:
        return bool(self.tiers)

    @property
    def amounts(self) -> tuple[Amount, ...]:
        """Every amount a purchase may earn: the one amount, or each tier's."""
        return tuple(t.amount for t in self.tiers) if self.amount is None else (self.amount,)

    def tier_of(self, at_us: int) -> str | None:
        """The id of the tier a purchase made at ``at_us`` falls in (None: untiered, or no tier)."""
        for tier in self.tiers:
            if tier.holds(at_us):
                return tier.id
        return None

    def amount_minor(self, price_minor: int, at_us: int) -> int:
        """What one qualifying purchase earns, before the price-paid guard."""
        if not self._tiers:
            return self._compiled(price_minor)
        for start, end, compiled in self._tiers:
            if start <= at_us < end:
                return compiled(price_minor)
        return 0  # no tier holds it: it earns nothing

    def within_price(self, price_minor: int, at_us: int) -> bool:
        """The guard (``within_price``): a purchase is granted only if its amount does not exceed
        the price paid."""
        return within_price(self.amount_minor(price_minor, at_us), price_minor)

    def grant_minor(self, price_minor: int, at_us: int) -> int | None:
        """The amount a purchase is granted, or None when it would exceed the price paid or earn
        nothing."""
        amount = self.amount_minor(price_minor, at_us)
        return amount if 0 < amount <= price_minor else None

    def earns(self, price_minor: int, at_us: int) -> bool:
        """Whether a purchase at this price earns anything at all (the "never nothing" guard)."""
        return self.amount_minor(price_minor, at_us) > 0

    @property
    def earns_from_minor(self) -> int | None:
        """The lowest price that earns anything (None: none does); see ``earns_from``. Tiered: the
        lowest of any tier (whether a purchase earns also depends on its tier)."""
        floors = [f for f in (earns_from(a) for a in self.amounts) if f is not None]
        return min(floors) if floors else None

    @property
    def constant_minor(self) -> int | None:
        """The amount when it does not follow the price paid (a fixed amount, capped), else None.
        Tiered: the one constant every tier shares, if they all do."""
        constants = {constant_of(a) for a in self.amounts}
        return constants.pop() if len(constants) == 1 else None

    @property
    def upper_bound_minor(self) -> int | None:
        """The most one grant can be worth, or None when only the price paid bounds it."""
        bounds = [upper_bound_of(a) for a in self.amounts]
        return None if any(b is None for b in bounds) else max(b for b in bounds if b is not None)

    @property
    def may_exceed_price(self) -> bool:
        """Whether some price would be overpaid (then such purchases block a launch): an amount
        that does not follow the price, in any tier. The price paid and any percentage up to
        100 % never can."""
        return any(constant_of(a) is not None for a in self.amounts)

    def pays_in(self, currency: str) -> bool:
        """The currency guard: a grant is paid in the terms' currency only."""
        return currency == self.currency


def amount_of(fixed_minor: int | None, cap_minor: int | None) -> Amount:
    """``amount`` (None: ``price_paid``) and ``max_amount`` (None: no cap) as one expression."""
    amount: Amount = PricePaid() if fixed_minor is None else Fixed(fixed_minor)
    return amount if cap_minor is None else Capped(amount, cap_minor)
