"""The automatic checks and the risk flags of one claim, from the facts the stores hold (ADR 28)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pledge.domain.campaign import CashbackTerms
from pledge.domain.claims import (
    BURST_LIMIT,
    BURST_WINDOW_US,
    CLAIM_CHANNEL,
    EVIDENCE_REQUIRED,
    NEAR_DUPLICATE_BITS,
    Check,
    ClaimState,
    ClaimTerms,
    EvidenceRef,
    Flag,
    hamming,
    region_changed,
)
from pledge.domain.money import format_minor
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.rules.ast import fields_of
from pledge.domain.rules.schema import values_of
from pledge.domain.serials import SerialRecord
from pledge.domain.timeutil import format_instant, local_date
from pledge.usecases.ports import CompiledRule, UnitOfWork


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim says was bought."""

    claim_id: str
    account: AccountRecord
    serial: str
    purchased_at_us: int
    price_minor: int
    evidence: Sequence[EvidenceRef]

    def purchase(self, terms: CashbackTerms, register: SerialRecord | None) -> PurchaseRecord:
        """The purchase an approved claim becomes: the rule reads it like any other."""
        return PurchaseRecord(
            f"claim:{self.claim_id}",
            self.account.account_id,
            register.sku if register else "",
            self.serial,
            self.purchased_at_us,
            self.price_minor,
            terms.currency,
            "completed",
            CLAIM_CHANNEL,
        )


def serial_paid(uow: UnitOfWork, serial: str, *, but: str = "") -> Check:
    """One serial, one payout: no live grant in any campaign, no other approved claim."""
    grants = uow.claims.serial_grants(serial)
    if grants:
        g = grants[0]
        return Check(
            "serial_unpaid",
            False,
            f"serial {serial} is already paid by grant {g.grant_id} "
            f"(campaign {g.campaign_id}, account {g.account_id}, {g.state})",
        )
    approved = [c for c in uow.claims.of_serial(serial) if c.state is ClaimState.APPROVED and c.id != but]
    if approved:
        c = approved[0]
        return Check(
            "serial_unpaid",
            False,
            f"serial {serial} is already paid through claim {c.id} (account {c.account_id}, "
            f"grant {c.grant_id or 'pending issue'})",
        )
    return Check("serial_unpaid", True, f"serial {serial} has no grant and no approved claim")


def claim_checks(
    uow: UnitOfWork,
    terms: CashbackTerms,
    claims: ClaimTerms,
    compiled: CompiledRule,
    claimed: Claimed,
    now_us: int,
) -> tuple[list[Check], SerialRecord | None]:
    window, tz = terms.window, terms.window.tz
    today = local_date(now_us, tz)
    checks = [
        Check(
            "claim_window",
            today <= claims.open_until,
            f"today is {today} in {terms.timezone}; claims are taken until {claims.open_until}",
        )
    ]
    if claims.evidence == EVIDENCE_REQUIRED:
        count = len(claimed.evidence)
        checks.append(Check("evidence", count > 0, f"{count} evidence file(s); at least one is required"))
    register = uow.serials.get(claimed.serial)
    checks.append(_registered(claimed.serial, register, terms))
    checks.append(serial_paid(uow, claimed.serial))
    region = claimed.account.region
    checks.append(
        Check(
            "account_region",
            register is not None and register.region == region,
            f"account {claimed.account.account_id} is in {region}; "
            + (f"the serial was sold in {register.region}" if register else "the serial is not registered"),
        )
    )
    purchase = claimed.purchase(terms, register)
    when = format_instant(purchase.purchased_at_us, tz)
    checks.append(
        Check(
            "purchased",
            window.contains(purchase.purchased_at_us),
            f"claimed purchase {when} (local date in {terms.timezone}); window {window.first}..{window.last}",
        )
    )
    values = values_of(purchase, claimed.account)
    for condition, passed in zip(compiled.rule.conditions, compiled.evaluate_conditions(values), strict=True):
        detail = "; ".join(f"{n} = {values[n]!r}" for n in fields_of(condition.node))
        checks.append(Check(condition.name, passed, detail))
    return checks, register


def _registered(serial: str, register: SerialRecord | None, terms: CashbackTerms) -> Check:
    if register is None:
        return Check("serial_registered", False, f"serial {serial} is not in the serial register")
    window, tz = terms.window, terms.window.tz
    sold = format_instant(register.sold_at_us, tz)
    activated = "never" if register.activated_at_us is None else format_instant(register.activated_at_us, tz)
    inside = window.contains(register.sold_at_us) or (
        register.activated_at_us is not None and window.contains(register.activated_at_us)
    )
    return Check(
        "serial_registered",
        inside,
        f"serial {serial} ({register.sku}) sold {sold}, activated {activated}; "
        f"window {window.first}..{window.last}",
    )


def claim_flags(
    uow: UnitOfWork,
    terms: CashbackTerms,
    claims: ClaimTerms,
    claimed: Claimed,
    amount_minor: int,
    now_us: int,
    register: SerialRecord | None = None,
) -> list[Flag]:
    account_id = claimed.account.account_id
    flags = _evidence_flags(uow, claimed)
    launched_at = _launched_at_us(uow, terms.campaign_id)
    if launched_at is not None:
        moves = uow.purchases.region_changes(account_id, launched_at)
        moved = region_changed(account_id, moves, launched_at, terms.window.tz)
        if moved is not None:
            flags.append(moved)
    if register is not None and claimed.purchased_at_us < register.sold_at_us:
        tz = terms.window.tz
        flags.append(
            Flag(
                "purchased_before_sold",
                f"the claimed purchase ({format_instant(claimed.purchased_at_us, tz)}) is before the maker "
                f"sold the device ({format_instant(register.sold_at_us, tz)})",
            )
        )
    recent = uow.claims.count_since(account_id, now_us - BURST_WINDOW_US)
    if recent >= BURST_LIMIT:
        flags.append(
            Flag("burst", f"account {account_id} submitted {recent} other claim(s) in the last 24 hours")
        )
    others = [
        c
        for c in uow.claims.of_serial(claimed.serial)
        if c.account_id != account_id and c.state is ClaimState.PENDING
    ]
    if others:
        flags.append(
            Flag(
                "serial_claimed_elsewhere",
                f"serial {claimed.serial} is also claimed by account "
                f"{others[0].account_id} (claim {others[0].id})",
            )
        )
    if claims.review_above_minor is not None and amount_minor > claims.review_above_minor:
        flags.append(
            Flag(
                "four_eyes",
                f"grants {format_minor(amount_minor, terms.currency)} {terms.currency}, above "
                f"{format_minor(claims.review_above_minor, terms.currency)}: two different people approve",
            )
        )
    return flags


def _launched_at_us(uow: UnitOfWork, campaign_id: str) -> int | None:
    """When the campaign was announced to customers: its launch (the first ``launched`` event), or
    None before it. Not its approval: approving settles the terms among staff, and a version may
    wait days for its launch; customers see a campaign (``/me``'s claim form, its grants) once it is
    active. A region changed before the launch is ordinary upkeep of the account; one changed after
    it may be someone moving an account into the region the campaign pays."""
    events = uow.campaigns.events(campaign_id)
    return next((e["at_us"] for e in events if e["kind"] == "launched"), None)


def _evidence_flags(uow: UnitOfWork, claimed: Claimed) -> list[Flag]:
    """The same file, or a near-duplicate picture, on another account's claim: one flag per kind,
    naming up to three of those claims."""
    account_id = claimed.account.account_id
    mine = {e.sha256 for e in claimed.evidence}
    same: dict[str, str] = {}
    near: dict[str, tuple[int, str]] = {}
    for match in uow.claims.evidence_like(claimed.evidence):
        if match.account_id == account_id:
            continue
        if match.sha256 in mine:
            same.setdefault(match.claim_id, match.account_id)
            continue
        bits = [
            hamming(e.phash, match.phash)
            for e in claimed.evidence
            if e.phash and match.phash and len(e.phash) == len(match.phash)
        ]
        if bits and min(bits) <= NEAR_DUPLICATE_BITS:
            near.setdefault(match.claim_id, (min(bits), match.account_id))
    flags = []
    if same:
        named = ", ".join(f"{c} (account {a})" for c, a in sorted(same.items())[:3])
        flags.append(
            Flag("duplicate_evidence", f"the same file is evidence of {len(same)} claim(s): {named}")
        )
    near = {c: v for c, v in near.items() if c not in same}
    if near:
        named = ", ".join(
            f"{c} (account {a}, {b} of 64 bits differ)" for c, (b, a) in sorted(near.items())[:3]
        )
        flags.append(
            Flag(
                "similar_evidence",
                f"an image is a near-duplicate of evidence of {len(near)} claim(s): {named}",
            )
        )
    return flags
