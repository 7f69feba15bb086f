"""Prepared candidates in memory: ``conflict_keys`` applied to a list (the reference for SQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from pledge.domain.campaign import CashbackTerms
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.issuance import (
    Candidate,
    Decision,
    IssuancePlanner,
    conflict_keys,
    is_free,
    ranked_accounts,
)
from pledge.usecases.ports import CampaignRecord, FreeGrants
from pledge.usecases.scan_ports import CandidateTotals, RankRefused


class MemoryCandidates:
    def __init__(
        self,
        candidates: Iterable[Candidate],
        terms: CashbackTerms,
        prior_accounts: Iterable[str] = (),
        prior_serials: Iterable[str] = (),
        prior_purchases: Iterable[str] = (),
        paid_by: Mapping[str, str] | None = None,
    ) -> None:
        """``paid_by``: purchase → the campaign of the promise group that already paid it (ADR 15)."""
        prior_purchases = set(prior_purchases)
        paid = {p: c for p, c in (paid_by or {}).items() if p not in prior_purchases}
        ordered = sorted(candidates, key=lambda c: (c.purchased_at_us, c.purchase_id))
        self._paid = dict(Counter(paid[c.purchase_id] for c in ordered if c.purchase_id in paid))
        self._excluded: list[tuple[str, str]] = []
        if not terms.stacking_allowed:
            self._excluded = [(c.account_id, c.serial) for c in ordered if c.purchase_id in paid]
            ordered = [c for c in ordered if c.purchase_id not in paid]
        self._all = ordered
        self._terms = terms
        prior_accounts = [*prior_accounts, *(a for a, _ in self._excluded)]
        self._accounts, self._serials = conflict_keys(
            self._all,
            terms.per_account,
            terms.per_serial,
            prior_accounts,
            [*prior_serials, *(s for _, s in self._excluded)],
            prior_purchases,
        )
        self._ranked = ranked_accounts(
            self._all, terms.per_account, self._serials, prior_accounts, prior_purchases
        )
        self._rank_decided = self._decide_ranked()

    def _decide_ranked(self) -> list[tuple[Candidate, Decision, int]]:
        """The ranked accounts' candidates, decided by the one planner with the budget aside."""
        ranked = [c for c in self._all if c.account_id in self._ranked]
        unbounded = _totals(ranked, self._terms).amount_minor  # enough for every one of them
        planner = IssuancePlanner(self._terms, unbounded, tracked_accounts=self._ranked, tracked_serials=())
        return [(c, *planner.decide(c)) for c in ranked]

    def _granted_free(self) -> Iterator[tuple[Candidate, int]]:
        """The free candidates and the ranked accounts' granted ones, in order."""
        grant_minor = self._terms.benefit.grant_minor
        ranked = {c.purchase_id: n for c, decision, n in self._rank_decided if decision is Decision.GRANT}
        for candidate in self._all:
            if candidate.purchase_id in ranked:
                yield candidate, ranked[candidate.purchase_id]
                continue
            amount = grant_minor(candidate.price_minor, candidate.purchased_at_us)
            if amount is not None and is_free(candidate, self._accounts, self._serials):
                yield candidate, amount

    def rank_refused(self) -> RankRefused:
        refused = [c for c, decision, _ in self._rank_decided if decision is Decision.PER_ACCOUNT]
        return RankRefused(len(refused), _totals(refused, self._terms))

    def totals(self) -> CandidateTotals:
        return _totals(self._all, self._terms)

    def conflicting(self) -> Iterator[Candidate]:
        return (
            c
            for c in self._all
            if not is_free(c, self._accounts, self._serials) and c.account_id not in self._ranked
        )

    def everything(self) -> Iterator[Candidate]:
        return iter(self._all)

    def tracked_accounts(self, *, ranked: bool = True) -> Iterator[str]:
        return iter(sorted(self._accounts if ranked else self._accounts - self._ranked))

    def tracked_serials(self) -> Iterator[str]:
        return iter(sorted(self._serials))

    def paid_elsewhere(self) -> dict[str, int]:
        return dict(sorted(self._paid.items()))

    def excluded_keys(self) -> Iterator[tuple[str, str]]:
        return iter(self._excluded)

    def free_grants(self, grants: FreeGrants) -> tuple[list[Grant], list[str]]:
        """The grants (and their serials) a run writes for the free candidates."""
        free = list(self._granted_free())
        new = [
            Grant(
                grant_id(grants.campaign_id, c.purchase_id),
                grants.campaign_id,
                grants.terms_version,
                c.account_id,
                c.purchase_id,
                amount,
                grants.currency,
                GrantState.ISSUED,
                grants.issued_at_us,
                grants.expires_at_us,
                tier=self._terms.benefit.tier_of(c.purchased_at_us),
            )
            for c, amount in free
        ]
        return new, [c.serial for c, _ in free]

    def close(self) -> None:
        """Nothing is held outside this object."""


def _totals(candidates: list[Candidate], terms: CashbackTerms) -> CandidateTotals:
    benefit = terms.benefit
    granted = [
        (a, c.purchased_at_us)
        for a, c in ((benefit.grant_minor(c.price_minor, c.purchased_at_us), c) for c in candidates)
        if a is not None
    ]
    by_tier: dict[str, tuple[int, int]] = {}
    for amount, at_us in granted if benefit.tiered else ():
        tier = str(benefit.tier_of(at_us))
        n, total = by_tier.get(tier, (0, 0))
        by_tier[tier] = (n + 1, total + amount)
    return CandidateTotals(
        len(granted),
        sum(a for a, _ in granted),
        sum(not benefit.pays_in(c.currency) for c in candidates),
        sum(not benefit.within_price(c.price_minor, c.purchased_at_us) for c in candidates),
        sum(not benefit.earns(c.price_minor, c.purchased_at_us) for c in candidates),
        by_tier=by_tier,
    )


def paid_in_group(
    campaigns: Iterable[CampaignRecord], grants: Iterable[Grant], terms: CashbackTerms
) -> dict[str, str]:
    """Purchase → the first (by id) other campaign of ``terms``' group with a grant for it that is
    not revoked: what the SQL store's anti-join finds."""
    others = {
        c.campaign_id
        for c in campaigns
        if c.promise_group == terms.group and c.campaign_id != terms.campaign_id
    }
    paid: dict[str, str] = {}
    for g in grants:
        if g.campaign_id in others and g.state is not GrantState.REVOKED:
            known = paid.get(g.purchase_id)
            paid[g.purchase_id] = g.campaign_id if known is None else min(known, g.campaign_id)
    return paid
