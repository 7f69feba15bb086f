"""Cashback campaigns: validated terms, immutable terms versions, lifecycle.

A campaign file is turned into :class:`CashbackTerms` here (pure validation,
every error naming its field). The terms are hashed over a canonical JSON
form, so applying the same file twice is recognisably a no-op and an approval
can be bound to exactly the version it saw.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from pledge.domain.benefit import Benefit
from pledge.domain.cashback_sections import (
    cashback_section,
    cashback_text,
    check_reminders,
    fixed_and_cap,
    limit,
    limits_section,
    payout_channel,
    purchase_window,
    qualify_rule,
)
from pledge.domain.claims import ClaimTerms, parse_claim_terms
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.fields import SLUG, money_field, slug_field
from pledge.domain.money import currency_exponent, format_minor
from pledge.domain.payouts import DEFAULT_PAYOUT_TERMS, PayoutTerms, parse_payout_terms
from pledge.domain.persons import same_person
from pledge.domain.schemas import CASHBACK_CAMPAIGN, check_document, suggestion
from pledge.domain.tiers import PRICE_PAID, TierTerms, parse_tiers, tiered_benefit, widened_tiers
from pledge.domain.timeutil import LocalDateWindow, parse_duration_us, zone

_CODE = "invalid_campaign"
DEFAULT_GROUP = "default"


class Stacking(StrEnum):
    """Whether a campaign may pay a purchase another campaign of its promise group already paid."""

    EXCLUDED = "excluded"
    ALLOWED = "allowed"


class CampaignState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"
    SETTLED = "settled"


# Which lifecycle moves are allowed; anything else is refused with both states named.
_TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.DRAFT: frozenset({CampaignState.APPROVED}),
    CampaignState.APPROVED: frozenset({CampaignState.ACTIVE}),
    CampaignState.ACTIVE: frozenset({CampaignState.PAUSED, CampaignState.CLOSED}),
    CampaignState.PAUSED: frozenset({CampaignState.ACTIVE, CampaignState.CLOSED}),
    CampaignState.CLOSED: frozenset({CampaignState.SETTLED}),
    CampaignState.SETTLED: frozenset(),
}


def check_transition(campaign_id: str, current: CampaignState, target: CampaignState) -> None:
    if target not in _TRANSITIONS[current]:
        raise RefusedError(
            f"campaign {campaign_id} is {current.value} and cannot become {target.value}",
            code="invalid_state_transition",
        )


@dataclass(frozen=True, slots=True)
class CashbackTerms:
    """One immutable version of a cashback campaign's terms."""

    campaign_id: str
    name: str
    timezone: str
    currency: str
    window: LocalDateWindow
    rule: str
    fixed_amount_minor: int | None  # None means "the price actually paid"
    max_amount_minor: int | None
    payout_channel: str
    claim_within_us: int
    claim_within: str
    per_account: int | None
    per_serial: int | None
    budget_minor: int
    # The promise group: campaigns of one group never pay the same purchase twice unless the
    # terms say ``stacking: allowed`` (ADR 15). One group per company unless a file names one.
    group: str = DEFAULT_GROUP
    stacking: Stacking = Stacking.EXCLUDED
    payout: PayoutTerms = DEFAULT_PAYOUT_TERMS  # the rail and its split (ADR 24)
    claims: ClaimTerms | None = None  # claims for purchases missing from the records (ADR 28)
    # Tiers (ADR 34): each its own window and amount; then ``window`` is their span and the two
    # amount fields above are None.
    tiers: tuple[TierTerms, ...] = ()
    # The amount and its guards (``pledge.domain.benefit``), built once from the fields above.
    benefit: Benefit = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tiers:
            benefit = tiered_benefit(self.tiers, self.currency)
        else:
            benefit = Benefit.of(self.fixed_amount_minor, self.max_amount_minor, self.currency)
        object.__setattr__(self, "benefit", benefit)

    def widened(self, days: int) -> CashbackTerms:
        """The same terms with ``days`` added at both ends of the window (and of the outer tiers)."""
        window = self.window.widened(days)
        return replace(self, window=window, tiers=widened_tiers(self.tiers, days) if self.tiers else ())

    def grant_amount(self, price_minor: int, at_us: int) -> int:
        """What one qualifying purchase earns, before the price-paid guard (``Benefit``)."""
        return self.benefit.amount_minor(price_minor, at_us)

    def tier_ids(self) -> list[str]:
        return [t.id for t in self.tiers]

    @property
    def stacking_allowed(self) -> bool:
        return self.stacking is Stacking.ALLOWED

    def canonical(self) -> dict[str, Any]:
        """The normalized document: what is hashed and stored.

        ``group`` and ``stacking`` appear only when they differ from the defaults, so terms written
        before promise groups existed keep their content hash (re-applying their file changes
        nothing), while a change of either is a new version that needs its own approval.
        """
        document: dict[str, Any] = {
            "id": self.campaign_id,
            "name": self.name,
            "timezone": self.timezone,
            "currency": self.currency,
            "qualify": {
                "purchased": {"from": self.window.first.isoformat(), "to": self.window.last.isoformat()},
                "rule": self.rule,
            },
            "benefit": {
                "kind": "cashback",
                "amount": PRICE_PAID
                if self.fixed_amount_minor is None
                else format_minor(self.fixed_amount_minor, self.currency),
                "max_amount": None
                if self.max_amount_minor is None
                else format_minor(self.max_amount_minor, self.currency),
            },
            "payout": {
                "channel": self.payout_channel,
                "claim_within": self.claim_within,
                **self.payout.canonical(self.currency),
            },
            "limits": {"per_account": self.per_account, "per_serial": self.per_serial},
            "budget": format_minor(self.budget_minor, self.currency),
        }
        if self.group != DEFAULT_GROUP:
            document["group"] = self.group
        if self.stacking is not Stacking.EXCLUDED:
            document["stacking"] = self.stacking.value
        if self.claims is not None:
            document["claims"] = self.claims.canonical(self.currency)
        if self.tiers:
            document["benefit"] = {"kind": "cashback"}
            document["tiers"] = [t.canonical(self.currency) for t in self.tiers]
        return document

    @property
    def content_hash(self) -> str:
        return terms_hash(self.canonical())


def terms_hash(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_cashback_terms(doc: Mapping[str, Any]) -> CashbackTerms:
    """Validate a campaign document (as loaded from YAML/JSON) into terms."""
    if not isinstance(doc, Mapping):
        raise InputError("campaign: a mapping is required", param="campaign", code="invalid_campaign")
    kind = doc.get("kind", "cashback")
    if kind != "cashback":  # "offer" never gets here; anything else is a misspelling of one of them
        raise InputError(
            f"kind: {kind!r} is not a kind of campaign{suggestion(str(kind), ['cashback', 'offer'])}",
            param="kind",
            code=_CODE,
        )
    check_document(doc, CASHBACK_CAMPAIGN)
    campaign_id = slug_field(cashback_text(doc, "id", "id"), "id", code=_CODE)
    tz_name = cashback_text(doc, "timezone", "timezone")
    zone(tz_name)
    currency = cashback_text(doc, "currency", "currency")
    currency_exponent(currency)
    qualify = cashback_section(doc, "qualify")
    tiers = parse_tiers(doc["tiers"], currency, tz_name) if doc.get("tiers") is not None else ()
    window = purchase_window(qualify, tiers, tz_name)
    rule = qualify_rule(qualify)
    fixed, cap = fixed_and_cap(cashback_section(doc, "benefit"), currency, tiers)
    payout = cashback_section(doc, "payout")
    channel = payout_channel(payout)
    claim_within = str(payout.get("claim_within", "30d"))
    check_reminders(doc)
    limits = limits_section(doc)
    return CashbackTerms(
        campaign_id=campaign_id,
        name=cashback_text(doc, "name", "name"),
        timezone=tz_name,
        currency=currency,
        window=window,
        rule=rule.strip(),
        fixed_amount_minor=fixed,
        max_amount_minor=cap,
        payout_channel=channel,
        claim_within_us=parse_duration_us(claim_within, param="payout.claim_within"),
        claim_within=claim_within.strip(),
        per_account=limit(limits, "per_account"),
        per_serial=limit(limits, "per_serial"),
        budget_minor=money_field(doc.get("budget"), currency, "budget"),
        group=_group(doc),
        stacking=_stacking(doc),
        payout=parse_payout_terms(payout, currency),
        claims=parse_claim_terms(doc.get("claims"), currency),
        tiers=tiers,
    )


def _group(doc: Mapping[str, Any]) -> str:
    value = doc.get("group", DEFAULT_GROUP)
    if not isinstance(value, str) or not SLUG.match(value):
        raise InputError(
            f"group: {value!r} must be a slug of a-z, 0-9 and - (at most 64); campaigns of one group "
            "never pay the same purchase twice",
            param="group",
            code=_CODE,
        )
    return value


def _stacking(doc: Mapping[str, Any]) -> Stacking:
    value = doc.get("stacking", Stacking.EXCLUDED.value)
    if isinstance(value, str) and value in {s.value for s in Stacking}:
        return Stacking(value)
    raise InputError(
        f"stacking: {value!r} is not one of excluded, allowed (allowed pays purchases another "
        "campaign of the group already paid)",
        param="stacking",
        code=_CODE,
    )


@dataclass(frozen=True, slots=True)
class TermsVersion:
    """A stored, immutable version of a campaign's terms and its four-eyes approval."""

    campaign_id: str
    version: int
    content_hash: str
    document: Mapping[str, Any]
    author: str
    created_at_us: int
    approved_by: str | None = None
    approved_at_us: int | None = None
    approved_hash: str | None = None

    @property
    def approved(self) -> bool:
        # An approval counts only for the exact content it was given for.
        return self.approved_by is not None and self.approved_hash == self.content_hash


class Approvable(Protocol):
    """What four-eyes needs of any terms version (cashback or offer)."""

    @property
    def campaign_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def author(self) -> str: ...
    @property
    def approved_by(self) -> str | None: ...
    @property
    def approved(self) -> bool: ...


def check_approval(version: Approvable, approver: str) -> None:
    """Four-eyes: the author of a terms version never approves it; approving twice is refused.

    Persons are compared, not keys or spellings: whichever of their keys the
    author uses, they cannot approve their own version.
    """
    if same_person(approver, version.author):
        raise RefusedError(
            f"campaign {version.campaign_id} version {version.version} was written by {version.author}; "
            f"{approver} is the same person, and a different person must approve it",
            code="four_eyes",
        )
    if version.approved:
        raise RefusedError(
            f"campaign {version.campaign_id} version {version.version} is already approved "
            f"by {version.approved_by}",
            code="already_approved",
        )
