"""Claims: a customer's purchase missing from the records, checked, flagged and decided.

A claim names a campaign, an account, a device serial, a purchase instant and a
price, with evidence files. The automatic *checks* are hard: one failing makes
the system reject the claim with its reasons (``decided_by: "system"``). The
*flags* are soft: they put a claim in front of a reviewer with a reason to
look twice. Nothing here touches storage; the use case gathers the facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from pledge.domain.errors import InputError, RefusedError
from pledge.domain.fields import money_field
from pledge.domain.money import format_minor
from pledge.domain.persons import same_person
from pledge.domain.records import RegionChange
from pledge.domain.timeutil import US_PER_SECOND, format_instant, parse_date

SYSTEM: Final = "system"
CLAIM_CHANNEL: Final = "claim"  # the channel of the purchase an approved claim becomes
EVIDENCE_REQUIRED: Final = "required"
EVIDENCE_OPTIONAL: Final = "optional"
BURST_WINDOW_US: Final = 24 * 3600 * 1_000_000
BURST_LIMIT: Final = 3  # claims by one account in a day before the next is flagged
NEAR_DUPLICATE_BITS: Final = 6  # perceptual hashes this close (of 64 bits) look like one picture
MAX_EVIDENCE_FILES: Final = 5
MAX_EVIDENCE_BYTES: Final = 5 * 1024 * 1024  # per file, as received
_ROUTE_SHOWN: Final = 6  # regions of a many-times-moved account named in a flag's detail
_REASON_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_CODE: Final = "invalid_campaign"


class ClaimState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """A campaign's ``claims:`` block: until when claims are taken, and how they are reviewed."""

    open_until: date  # local date in the campaign's zone, inclusive
    review_above_minor: int | None  # grants above this need two different approvers
    evidence: str = EVIDENCE_REQUIRED

    def canonical(self, currency: str) -> dict[str, Any]:
        document: dict[str, Any] = {"open_until": self.open_until.isoformat(), "evidence": self.evidence}
        if self.review_above_minor is not None:
            document["review_above"] = format_minor(self.review_above_minor, currency)
        return document


def parse_claim_terms(raw: object, currency: str) -> ClaimTerms | None:
    """The ``claims`` block of a campaign file (unknown keys were refused by the schema walk)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("claims: a mapping is required", param="claims", code=_CODE)
    if "open_until" not in raw:
        raise InputError(
            "claims.open_until: the last local date claims are taken is required",
            param="claims.open_until",
            code=_CODE,
        )
    open_until = parse_date(str(raw["open_until"]), param="claims.open_until")
    above = raw.get("review_above")
    review = None if above is None else money_field(above, currency, "claims.review_above")
    evidence = raw.get("evidence", EVIDENCE_REQUIRED)
    if evidence not in (EVIDENCE_REQUIRED, EVIDENCE_OPTIONAL):
        raise InputError(
            f"claims.evidence: {evidence!r} is not one of required, optional",
            param="claims.evidence",
            code=_CODE,
        )
    return ClaimTerms(open_until, review, str(evidence))


@dataclass(frozen=True, slots=True)
class Check:
    """One automatic check, reported like a rule condition."""

    name: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Flag:
    """A reason for a reviewer to look twice; never decides by itself."""

    name: str
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """An evidence file as stored: its exact hash, kind, size and perceptual hash ("" for a PDF)."""

    sha256: str
    kind: str
    size: int
    phash: str = ""


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    campaign_id: str
    account_id: str
    serial: str
    purchased_at_us: int
    price_minor: int
    currency: str
    amount_minor: int  # what the claim would be granted under the terms checked
    state: ClaimState
    checks: tuple[Check, ...]
    flags: tuple[Flag, ...]
    submitted_by: str
    submitted_at_us: int
    evidence: tuple[EvidenceRef, ...] = ()
    approvals: tuple[str, ...] = ()  # who approved so far (two names above ``review_above``)
    decided_by: str = ""
    decided_at_us: int | None = None
    reason: str = ""
    grant_id: str = ""
    sku: str = ""  # from the register, when the serial is there

    @property
    def purchase_id(self) -> str:
        """The purchase an approved claim becomes (channel ``claim``)."""
        return f"claim:{self.id}"


def region_changed(
    account_id: str, changes: Sequence[RegionChange], launched_at_us: int, tz: ZoneInfo
) -> Flag | None:
    """``region_changed``: the account's region changed at or after its campaign was launched.

    ``changes`` are the account's changes since the launch, oldest first. Someone who learns that a
    campaign pays one region only can move an account there before claiming; an honest move happens
    too, so this is a reason to look, never a rejection. The detail names the region at the launch,
    the region now and when it changed, in the campaign's zone to the second.
    """
    if not changes:
        return None
    first, last = changes[0], changes[-1]
    moved = f"account {account_id} moved from {first.old_region} to {last.new_region}"
    when, launched = _to_the_second(last.changed_at_us, tz), _to_the_second(launched_at_us, tz)
    if len(changes) == 1:
        return Flag("region_changed", f"{moved} on {when}, after the campaign was launched on {launched}")
    regions = [first.old_region, *(c.new_region for c in changes)]
    if len(regions) > _ROUTE_SHOWN:
        regions = [*regions[: _ROUTE_SHOWN - 2], "...", regions[-1]]
    return Flag(
        "region_changed",
        f"{moved} after the campaign was launched on {launched}: {len(changes)} changes "
        f"({', '.join(regions)}), the last on {when}",
    )


def _to_the_second(instant_us: int, tz: ZoneInfo) -> str:
    return format_instant(instant_us - instant_us % US_PER_SECOND, tz)


def hard_failures(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex perceptual hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def reason_code(text: str) -> str:
    """A decision's reason: a short code of a-z, 0-9 and _ (``receipt_unreadable``)."""
    code = text.strip()
    if not 1 <= len(code) <= 40 or not set(code) <= _REASON_CHARS:
        raise InputError(
            f"reason: {code!r} must be a code of a-z, 0-9 and _ (at most 40), e.g. receipt_unreadable",
            param="reason",
            code="invalid_reason",
        )
    return code


def check_decider(claim: Claim, actor: str, approve: bool, review_above_minor: int | None) -> bool:
    """Refuse a decision this actor may not take; True when an approval completes the claim.

    Nobody decides a claim they submitted for someone else or that is their own account's, nor
    approves twice; above ``review_above`` an approval needs a second, different approver.
    """
    if claim.state is not ClaimState.PENDING:
        raise RefusedError(
            f"claim {claim.id} is already {claim.state.value} (by {claim.decided_by})", code="claim_decided"
        )
    if same_person(actor, claim.submitted_by) or same_person(actor, claim.account_id):
        raise RefusedError(
            f"claim {claim.id}: {actor} submitted it or owns the account; someone else decides it",
            code="self_decision",
        )
    if any(same_person(actor, earlier) for earlier in claim.approvals):
        raise RefusedError(
            f"claim {claim.id}: {actor} already approved it; a second, different person must",
            code="four_eyes",
        )
    if not approve:
        return False
    needed = 2 if review_above_minor is not None and claim.amount_minor > review_above_minor else 1
    return len(claim.approvals) + 1 >= needed
