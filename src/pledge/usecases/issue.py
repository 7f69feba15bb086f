"""``campaign run``: issue grants, exactly once, in order, within budget.

The whole run is one transaction holding the campaign's row lock, so two
runs racing on PostgreSQL serialize (the second sees the first's grants and
issues nothing twice), and a run that dies leaves nothing half-applied: run
it again and it resumes from what is committed. Two further guards hold
even if this logic had a bug: the grant id, derived from (campaign, purchase),
is the primary key; and the budget row's CHECK (remaining >= 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pledge.domain.campaign import CampaignState, CashbackTerms, TermsVersion
from pledge.domain.errors import ConflictError, InvariantViolation, RefusedError
from pledge.domain.events import GrantsIssued
from pledge.domain.grant import Grant, GrantState, grant_id
from pledge.domain.issuance import Candidate, Decision
from pledge.domain.ledger import Transfer, budget_account, funding_account, grants_account
from pledge.domain.money import format_minor
from pledge.usecases.candidate_sets import check_manifest, set_problem
from pledge.usecases.common import (
    effective_version,
    require_campaign,
    selection_for,
    terms_of,
)
from pledge.usecases.engine_ports import CandidateSet
from pledge.usecases.planning import BudgetBinds, Decided, Split, exact_decisions
from pledge.usecases.ports import (
    CampaignRecord,
    Clock,
    FreeGrants,
    RuleCompiler,
    UnitOfWork,
    UnitOfWorkFactory,
)
from pledge.usecases.run_outcome import RanOut, RunOutcome
from pledge.usecases.scan_ports import CandidateTotals, PreparedCandidates, Selection
from pledge.usecases.simulate import blocking_problems

CHUNK = 10_000


def run_campaign(
    uow_factory: UnitOfWorkFactory,
    rules: RuleCompiler,
    clock: Clock,
    campaign_id: str,
    actor: str,
    progress: Callable[[int], None] | None = None,
    candidates: CandidateSet | None = None,
) -> RunOutcome:
    """Issue the campaign's grants: free candidates in bulk, the rest in order (ADR 11).

    If the budget runs out during the run, the split cannot say who came first: that attempt is
    rolled back whole and the run decides again with the one ordered pass over every candidate.
    ``candidates``: a candidate set selected where the history lives (ADR 29) instead of the
    imported purchases; refused unless it was selected for the approved terms and its rows are
    the ones its manifest describes. Everything else — limits, budget, order, exactly once — is
    this same path.
    """
    try:
        return _run(uow_factory, rules, clock, campaign_id, actor, progress, candidates, split=True)
    except BudgetBinds:
        return _run(uow_factory, rules, clock, campaign_id, actor, progress, candidates, split=False)


def _run(
    uow_factory: UnitOfWorkFactory,
    rules: RuleCompiler,
    clock: Clock,
    campaign_id: str,
    actor: str,
    progress: Callable[[int], None] | None,
    candidates: CandidateSet | None,
    *,
    split: bool,
) -> RunOutcome:
    now = clock.now_us()
    with uow_factory() as uow:
        record = _active_campaign(uow, campaign_id)
        version = effective_version(uow, campaign_id)
        terms = terms_of(version)
        uow.campaigns.lock_group(terms.group)  # after the campaign's own lock: always in that order
        selection = selection_for(terms, rules)
        remaining = _align_budget(uow, terms, version.version, now)
        prepared, refuse = _prepare(uow, terms, selection, version, candidates)
        bulk: Split | None = None
        if split:
            bulk = Split(uow, terms, prepared, remaining, from_issued=True)
            every = bulk.every
            if every.other_currency or (terms.benefit.may_exceed_price and every.overpaid):
                refuse()
            planner, decisions = bulk.planner, bulk.decisions()
            uow.grants.begin_write(every.count)  # before the first grant: the table may be empty
        else:
            planner, decisions = exact_decisions(uow, terms, prepared, remaining, from_issued=True)
        issued, amount, ran_out = _issue_in_order(
            uow, terms, version.version, decisions, refuse, now, progress
        )
        left = planner.budget_remaining_minor  # read once every decision is taken
        if bulk is not None and bulk.free.count:
            _store_free(uow, terms, version.version, prepared, bulk.free, now, record.issue_seq + 1)
            issued, amount = issued + bulk.free.count, amount + bulk.free.amount_minor
            left = bulk.remaining_minor
        prepared.close()
        _check_books(uow, campaign_id, record.issue_seq, left)
        paid = prepared.paid_elsewhere()
        outcome = RunOutcome(
            campaign=campaign_id,
            version=version.version,
            issued=issued,
            amount_minor=amount,
            currency=terms.currency,
            budget_exhausted=ran_out.count,
            already_paid=0 if terms.stacking_allowed else sum(paid.values()),
            budget_remaining_minor=left,
            budget_ran_out=ran_out.first_unpaid(),
        )
        uow.campaigns.record_event(campaign_id, "run", actor, now, outcome.event_detail())
        uow.commit()
    if progress:
        progress(issued)
    return outcome


def _active_campaign(uow: UnitOfWork, campaign_id: str) -> CampaignRecord:
    """The campaign, its row locked for the run; refused unless it is active."""
    record = require_campaign(uow, campaign_id, for_update=True)
    if record.state is not CampaignState.ACTIVE:
        raise RefusedError(
            f"campaign {campaign_id} is {record.state.value}; only an active campaign issues "
            "grants (launch it first)",
            code="not_active",
        )
    return record


def _issue_in_order(
    uow: UnitOfWork,
    terms: CashbackTerms,
    version: int,
    decisions: Iterable[Decided],
    refuse: Callable[[], None],
    now: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, int, RanOut]:
    """Book the grants decided one by one, a chunk at a time: how many, their amount, and where the
    budget ran out."""
    issued = amount = 0
    ran_out = RanOut()
    chunk: list[tuple[Grant, str]] = []
    benefit = terms.benefit
    may_overpay = benefit.may_exceed_price
    for candidate, decision, granted_minor in decisions:
        # What blocks a launch blocks a run too (a purchase imported since may bring it): checked
        # on every candidate in this one pass; the refusal rolls the whole run back.
        if not benefit.pays_in(candidate.currency) or (
            may_overpay and not benefit.within_price(candidate.price_minor, candidate.purchased_at_us)
        ):
            refuse()
        ran_out.see(candidate, decision)
        if decision is Decision.EXCEEDS_PRICE:
            raise InvariantViolation(f"grant for purchase {candidate.purchase_id} would exceed its price")
        if decision is Decision.GRANT:
            chunk.append((_new_grant(terms, version, candidate, granted_minor, now), candidate.serial))
            issued += 1
            amount += granted_minor
            if len(chunk) >= CHUNK:
                _store(uow, terms.campaign_id, chunk)
                chunk = []
                if progress:
                    progress(issued)
    _store(uow, terms.campaign_id, chunk)
    return issued, amount, ran_out


def _check_books(uow: UnitOfWork, campaign_id: str, issue_seq: int, budget_left: int) -> None:
    """Before the run commits: no grant twice, the budget as planned, and no other run meanwhile."""
    uow.grants.flush_added()  # a duplicate grant id fails here, and the whole run rolls back
    budget = uow.budgets.get(campaign_id)
    assert budget is not None
    assert budget.remaining_minor == budget_left
    # Belt and braces under the row lock: if another run slipped in, abandon this one whole.
    if not uow.campaigns.bump_issue_seq(campaign_id, issue_seq):
        raise ConflictError(f"campaign {campaign_id} was run by someone else meanwhile; nothing issued")


def _store_free(
    uow: UnitOfWork,
    terms: CashbackTerms,
    version: int,
    prepared: PreparedCandidates,
    free: CandidateTotals,
    now: int,
    run_seq: int,
) -> None:
    """Book every free candidate's grant: the budget once, one ledger posting, one statement."""
    campaign_id = terms.campaign_id
    if not uow.budgets.adjust(campaign_id, -free.amount_minor):
        raise InvariantViolation(
            f"campaign {campaign_id}: issuing {format_minor(free.amount_minor, terms.currency)} "
            f"{terms.currency} would overdraw the budget"
        )
    posting = Transfer(
        f"issue:{campaign_id}:r{run_seq}",  # unique: one bulk posting per run, runs are numbered
        budget_account(campaign_id),
        grants_account(campaign_id),
        terms.currency,
        free.amount_minor,
        "issue",
        campaign_id,
        now,
    )
    written = uow.grants.add_free(
        prepared,
        FreeGrants(campaign_id, version, terms.currency, now, now + terms.claim_within_us, posting.id),
    )
    if (written.count, written.amount_minor) != (free.count, free.amount_minor):
        raise InvariantViolation(
            f"campaign {campaign_id}: wrote {written.count} free grants for "
            f"{format_minor(written.amount_minor, terms.currency)}, planned {free.count} for "
            f"{format_minor(free.amount_minor, terms.currency)} {terms.currency}"
        )
    uow.ledger.append([posting])
    if written.count:
        uow.record(
            GrantsIssued(campaign_id, posting.id, written.count, written.amount_minor, terms.currency, now)
        )


def _new_grant(terms: CashbackTerms, version: int, candidate: Candidate, amount: int, now: int) -> Grant:
    return Grant(
        grant_id(terms.campaign_id, candidate.purchase_id),
        terms.campaign_id,
        version,
        candidate.account_id,
        candidate.purchase_id,
        amount,
        terms.currency,
        GrantState.ISSUED,
        now,
        now + terms.claim_within_us,
        tier=terms.benefit.tier_of(candidate.purchased_at_us),
    )


def _prepare(
    uow: UnitOfWork,
    terms: CashbackTerms,
    selection: Selection,
    version: TermsVersion,
    candidates: CandidateSet | None,
) -> tuple[PreparedCandidates, Callable[[], None]]:
    """The run's candidates (imported purchases, or a checked candidate set) and how it refuses."""
    if candidates is None:
        prepared = uow.purchases.prepare(selection, terms, count_issued=True)
        return prepared, lambda: _refuse(uow, terms, selection, terms.campaign_id)
    check_manifest(candidates.manifest, version)
    from_set = uow.purchases.prepare_rows(candidates.batches(), terms, count_issued=True)

    def refuse() -> None:
        raise set_problem(terms, from_set.totals())

    return from_set, refuse


def _refuse(uow: UnitOfWork, terms: CashbackTerms, selection: Selection, campaign_id: str) -> None:
    problems = blocking_problems(uow, terms, selection)
    if not problems:
        raise InvariantViolation(
            f"campaign {campaign_id}: a candidate blocks the run but no problem was found"
        )
    raise RefusedError(
        f"campaign {campaign_id}: nothing issued: {problems[0].message}", code=problems[0].code
    )


def _store(uow: UnitOfWork, campaign_id: str, chunk: list[tuple[Grant, str]]) -> None:
    """Book a chunk of grants: the budget once, one ledger posting, the grants naming it.

    One posting per chunk rather than one transfer per grant (ADR 10): the grants table is the
    sub-ledger of individual red envelopes, and ``ledger verify`` checks that each posting equals
    the sum of the grants that name it. Claims, expiries and revocations stay one transfer each.
    """
    if not chunk:
        return
    new = [g for g, _ in chunk]
    total = sum(g.amount_minor for g in new)
    if not uow.budgets.adjust(campaign_id, -total):
        raise InvariantViolation(f"campaign {campaign_id}: issuing {total} would overdraw the budget")
    first = new[0]
    posting = Transfer(
        f"issue:{first.id}",  # unique: each grant is booked by exactly one posting
        budget_account(campaign_id),
        grants_account(campaign_id),
        first.currency,
        total,
        "issue",
        campaign_id,
        first.issued_at_us,
    )
    uow.grants.add_many(new, [serial for _, serial in chunk], posting_id=posting.id)
    uow.ledger.append([posting])
    uow.record(GrantsIssued(campaign_id, posting.id, len(new), total, first.currency, first.issued_at_us))


def _align_budget(uow: UnitOfWork, terms: CashbackTerms, version: int, now: int) -> int:
    """Bring the funded budget to the effective version's budget; returns what remains."""
    budget = uow.budgets.get(terms.campaign_id)
    assert budget is not None, "an active campaign has a funded budget"
    delta = terms.budget_minor - budget.funded_minor
    if delta:
        if not uow.budgets.adjust(terms.campaign_id, delta, delta):
            spent = budget.funded_minor - budget.remaining_minor
            raise RefusedError(
                f"campaign {terms.campaign_id} version {version} lowers the budget to "
                f"{format_minor(terms.budget_minor, terms.currency)} but "
                f"{format_minor(spent, terms.currency)} is already issued",
                code="budget_below_issued",
            )
        debit, credit = (
            (funding_account(terms.campaign_id), budget_account(terms.campaign_id))
            if delta > 0
            else (budget_account(terms.campaign_id), funding_account(terms.campaign_id))
        )
        uow.ledger.append(
            [
                Transfer(
                    f"fund:{terms.campaign_id}:v{version}",
                    debit,
                    credit,
                    terms.currency,
                    abs(delta),
                    "fund" if delta > 0 else "defund",
                    terms.campaign_id,
                    now,
                )
            ]
        )
    return budget.remaining_minor + delta
