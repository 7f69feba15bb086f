"""Payouts: plan claimed grants into transfers, send what is due, ask about what is in flight (ADR 24).

The rule is *never guess*. A transfer is recorded ``submitted`` (and its money
booked from the customer's wallet account to the rail's in-transit account) in
one transaction **before** its request leaves; the provider's answer is applied
in another, under the row's lock, with its ledger posting. A lost answer leaves
the transfer ``unknown``: only ``payouts sync`` resolves it, by asking the
provider and, when the provider has never seen the request id, by resending the
*same* request. A new request id is minted only after the provider said the old
one failed (``domain/payout_transfers.next_attempt``); a failed transfer's money
is booked back to the customer's wallet account.

Several dispatchers share the work (ADR 32): ``due`` and ``in_flight`` skip rows
another transaction holds (PostgreSQL), SQLite has one writer, and the ledger's
unique posting ids (``payout:{request_id}:sent|paid|back``) book each step once.
Today's limits of an account (and of the merchant) are filled under
``lock_day``, and ``pace`` holds every dispatcher's requests to one shared rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.ledger import (
    ChainVerifier,
    customer_account,
    payouts_in_transit_account,
    payouts_paid_account,
)
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import (
    IN_FLIGHT_STATES,
    Outcome,
    ProviderAnswer,
    TransferState,
    mark_sent,
)
from pledge.domain.payout_transfers import Transfer as PayoutTransfer
from pledge.domain.payouts import (
    WALLET,
    RailLimits,
    default_limits,
    first_payout_day,
    has_day_room,
    plan_payout,
)
from pledge.domain.timeutil import local_date, zone
from pledge.usecases.common import check_page_limit, list_object, terms_of
from pledge.usecases.payout_outcomes import apply_provider_answer, close_if_window_ended, posting
from pledge.usecases.payout_ports import PayoutRail, PayoutRecord, RequestPace, TransferRequest
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory

BATCH: Final = 100  # transfers per transaction: a kill -9 loses at most this many decisions
ANSWERS_PER_COMMIT: Final = 20  # answers recorded per transaction; a kill -9 leaves these to sync
RailFactory = Callable[[str], PayoutRail]
COUNTED: Final = ("submitted", "succeeded", "failed", "unknown", "waiting_user", "deferred")


def _counts() -> Counter[str]:
    return Counter(dict.fromkeys(COUNTED, 0))


def _bucket(state: TransferState) -> str:
    return "failed" if state in (TransferState.CANCELLED, TransferState.RETURNED) else state.value


@dataclass(frozen=True, slots=True)
class _Campaign:
    campaign_id: str
    terms: dict[int, CashbackTerms]  # by terms version
    newest: CashbackTerms

    def limits(self, rail: str) -> RailLimits:
        split = self.newest.payout
        return split.limits if split.rail == rail else default_limits(rail)

    def today(self, now_us: int) -> date:
        return local_date(now_us, zone(self.newest.timezone))


def _campaigns(uow: UnitOfWork, campaign_id: str | None) -> list[_Campaign]:
    """The cashback campaigns to pay (one, or all), with their terms by version."""
    records = [r for r in uow.campaigns.all() if r.kind != "offer"]
    if campaign_id is not None:
        records = [r for r in records if r.campaign_id == campaign_id]
        if not records:
            raise InputError(
                f"campaign {campaign_id} is not a cashback campaign that exists",
                code="campaign_not_found",
                param="campaign",
            )
    found: list[_Campaign] = []
    for record in records:
        versions = uow.campaigns.versions(record.campaign_id)
        if versions:
            terms = {v.version: terms_of(v) for v in versions}
            found.append(_Campaign(record.campaign_id, terms, terms[versions[-1].version]))
    return found


def plan_payouts(uow_factory: UnitOfWorkFactory, clock: Clock, *, campaign_id: str | None = None) -> int:
    """Store the split plan of every claimed grant that has none; returns how many grants were planned.

    The plan is a pure function of the grant and its terms (rail, split, zone): planning again
    after a crash plans the same transfers. Planning a campaign holds its row lock, so two
    dispatchers never plan one grant twice. A grant below the rail's minimum is left unplanned.
    """
    now = clock.now_us()
    planned = 0
    with uow_factory() as uow:
        campaigns = _campaigns(uow, campaign_id)
    for campaign in campaigns:
        after = ""
        while True:
            with uow_factory() as uow:
                uow.campaigns.get(campaign.campaign_id, for_update=True)
                grants = uow.payouts.unplanned(campaign.campaign_id, after, BATCH)
                if not grants:
                    break
                records: list[PayoutRecord] = []
                for grant in grants:
                    terms = campaign.terms.get(grant.terms_version, campaign.newest)
                    assert grant.claimed_at_us is not None, "a claimed grant has its instant"
                    try:
                        plan = plan_payout(
                            grant_id=grant.id,
                            rail=terms.payout.rail,
                            amount_minor=grant.amount_minor,
                            currency=grant.currency,
                            limits=terms.payout.limits,
                            first_day=first_payout_day(grant.claimed_at_us, terms.timezone),
                        )
                    except RefusedError:
                        continue  # stays claimed and unplanned: a person must choose another way
                    planned += 1
                    uow.grants.update(grant.start_paying())
                    records.extend(
                        PayoutRecord(
                            PayoutTransfer(
                                grant.id, p.seq, 1, plan.rail, p.amount_minor, plan.currency, p.due_on
                            ),
                            grant.campaign_id,
                            grant.account_id,
                            created_at_us=now,
                            updated_at_us=now,
                        )
                        for p in plan.transfers
                    )
                uow.payouts.add_plan(records)
                uow.commit()
                after = grants[-1].id
    return planned


class _Payees:
    """Who receives on each rail: the account itself (wallet) or its WeChat openid, read per batch."""

    def __init__(self) -> None:
        self._openids: dict[str, str] = {}

    def load(self, uow: UnitOfWork, records: list[PayoutRecord]) -> None:
        wanted = {r.account_id for r in records if r.transfer.rail != WALLET} - self._openids.keys()
        if wanted:
            self._openids.update(uow.payouts.openids(sorted(wanted)))

    def of(self, uow: UnitOfWork, record: PayoutRecord) -> str:
        if record.transfer.rail == WALLET:
            return record.account_id
        if record.account_id not in self._openids:
            self.load(uow, [record])
        return self._openids[record.account_id]


def _request(record: PayoutRecord, payee: str) -> TransferRequest:
    tr = record.transfer
    return TransferRequest(tr.request_id, payee, tr.amount_minor, tr.currency, record.campaign_id)


@contextmanager
def _rails(factory: RailFactory) -> Iterator[Callable[[str], PayoutRail]]:
    """Rails built on first use (an unconfigured rail fails only when needed) and closed after."""
    built: dict[str, PayoutRail] = {}

    def get(name: str) -> PayoutRail:
        if name not in built:
            built[name] = factory(name)
        return built[name]

    try:
        yield get
    finally:
        for rail in built.values():
            close = getattr(rail, "close", None)
            if callable(close):
                close()


def _day_limited(limits: RailLimits) -> tuple[bool, bool]:
    """Whether the account's day and the merchant's day are limited on a rail."""
    per_account = limits.max_per_account_day is not None or limits.max_count_per_account_day is not None
    return per_account, limits.max_merchant_day is not None


def _lock_days(uow: UnitOfWork, campaign: _Campaign, due: list[PayoutRecord], today: date) -> None:
    """Wait for the right to fill today's limits these transfers count against (ADR 32)."""
    accounts: dict[str, set[str]] = {}
    for record in due:
        accounts.setdefault(record.transfer.rail, set()).add(record.account_id)
    for rail in sorted(accounts):  # one order for every dispatcher
        per_account, merchant = _day_limited(campaign.limits(rail))
        if per_account or merchant:
            wanted = sorted(accounts[rail]) if per_account else []
            uow.payouts.lock_day(rail, wanted, today, merchant=merchant)


class _DayUsage:
    """Today's usage of the batch's accounts and of the merchant, read once per batch under
    ``lock_day`` and then counted here as the batch adds to it (no query per transfer)."""

    def __init__(self, uow: UnitOfWork, campaign: _Campaign, due: list[PayoutRecord], today: date) -> None:
        self.accounts: dict[tuple[str, str], tuple[int, int]] = {}
        self.merchant: dict[str, int] = {}
        for rail in sorted({r.transfer.rail for r in due}):
            per_account, merchant = _day_limited(campaign.limits(rail))
            wanted = sorted({r.account_id for r in due if r.transfer.rail == rail}) if per_account else []
            usage, self.merchant[rail] = uow.payouts.day_usage(rail, wanted, today, merchant=merchant)
            self.accounts.update(((rail, account), used) for account, used in usage.items())

    def has_room(self, limits: RailLimits, record: PayoutRecord) -> bool:
        tr = record.transfer
        amount, count = self.accounts.get((tr.rail, record.account_id), (0, 0))
        return has_day_room(
            limits,
            account_amount_today=amount,
            account_count_today=count,
            merchant_amount_today=self.merchant[tr.rail],
            amount_minor=tr.amount_minor,
        )

    def add(self, record: PayoutRecord) -> None:
        tr, key = record.transfer, (record.transfer.rail, record.account_id)
        amount, count = self.accounts.get(key, (0, 0))
        self.accounts[key] = (amount + tr.amount_minor, count + 1)
        self.merchant[tr.rail] += tr.amount_minor


def _take_due(
    uow: UnitOfWork, campaign: _Campaign, today: date, after: str, limit: int, payees: _Payees, now_us: int
) -> tuple[list[tuple[PayoutRecord, TransferRequest]], int, str]:
    """Mark due transfers that fit today's limits ``submitted`` and book them in transit.

    Returns the requests to send, how many were deferred, and the cursor for the next batch.
    """
    due = uow.payouts.due(campaign.campaign_id, today, after, limit)
    _lock_days(uow, campaign, due, today)
    payees.load(uow, due)
    usage = _DayUsage(uow, campaign, due, today)
    sending: list[tuple[PayoutRecord, TransferRequest]] = []
    postings = []
    deferred = 0
    for record in due:
        if close_if_window_ended(uow, record, now_us):
            continue  # a retry after the claim window closed: its value went back to the budget
        tr = record.transfer
        payee = payees.of(uow, record)
        if not payee or not usage.has_room(campaign.limits(tr.rail), record):
            deferred += 1  # no openid yet, or today is full: stays pending for another day
            continue
        usage.add(record)
        sent = replace(record, transfer=mark_sent(tr), attempts=record.attempts + 1, sent_on=today)
        sent = replace(sent, updated_at_us=now_us)
        wallet = customer_account(record.account_id)
        postings.append(posting(sent, "sent", wallet, payouts_in_transit_account(tr.rail), now_us))
        sending.append((sent, _request(sent, payee)))
    uow.payouts.update_many([record for record, _ in sending])
    if postings:
        uow.ledger.append(postings)
    return sending, deferred, due[-1].id if due else after


def _record_answers(
    uow_factory: UnitOfWorkFactory, clock: Clock, answered: list[tuple[str, ProviderAnswer]]
) -> Counter[str]:
    """Apply several answers in one transaction: a commit per answer cost more than the request.

    A kill before the commit loses these answers, never a request id: the transfers stay
    ``submitted`` and ``payouts sync`` asks the provider about them."""
    reached: Counter[str] = Counter()
    with uow_factory() as uow:
        now = clock.now_us()
        for transfer_id, answer in answered:
            reached[_bucket(apply_provider_answer(uow, transfer_id, answer, now, 0))] += 1
        uow.commit()
    return reached


def run_payouts(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    rails: RailFactory,
    *,
    campaign_id: str | None = None,
    max_transfers: int | None = None,
    progress: Callable[[int], None] | None = None,
    pace: RequestPace | None = None,
) -> dict[str, int]:
    """Plan what is unplanned, then send the transfers due today (campaign zone) within the limits.

    ``progress`` is told how many transfers have been answered so far, after each one."""
    if max_transfers is not None and max_transfers < 1:
        raise InputError("--max: must be at least 1", param="max")
    now = clock.now_us()
    counts = _counts()
    left = max_transfers
    with uow_factory() as uow:
        campaigns = _campaigns(uow, campaign_id)
    with _rails(rails) as rail_of:
        for campaign in campaigns:
            for terms in campaign.terms.values():
                rail_of(terms.payout.rail)  # an unconfigured rail refuses before anything is planned or sent
        counts["planned"] = plan_payouts(uow_factory, clock, campaign_id=campaign_id)
        for campaign in campaigns:
            today, after = campaign.today(now), ""
            while left is None or left > 0:
                payees = _Payees()
                with uow_factory() as uow:
                    batch = BATCH if left is None else min(BATCH, left)
                    sending, deferred, cursor = _take_due(uow, campaign, today, after, batch, payees, now)
                    uow.commit()  # recorded as sent before anything leaves
                if cursor == after:
                    break
                after = cursor
                counts["deferred"] += deferred
                answered: list[tuple[str, ProviderAnswer]] = []
                for n, (record, request) in enumerate(sending, 1):
                    if pace is not None:
                        pace.wait_turn(record.transfer.rail)
                    answered.append((record.id, rail_of(record.transfer.rail).send(request)))
                    if len(answered) == ANSWERS_PER_COMMIT or n == len(sending):
                        counts.update(_record_answers(uow_factory, clock, answered))
                        answered = []
                        if progress is not None:
                            progress(sum(counts[k] for k in COUNTED if k != "deferred"))
                if left is not None:
                    left -= len(sending)
    return dict(counts)


def sync_payouts(
    uow_factory: UnitOfWorkFactory, clock: Clock, rails: RailFactory, *, pace: RequestPace | None = None
) -> dict[str, int]:
    """Ask the provider about every submitted, unknown or waiting transfer and apply its answer.

    When the provider has never seen a request id (``not_found``), the same request is sent again:
    the provider deduplicates by id, so this can pay at most once.
    """
    counts = _counts()
    after = ""
    payees = _Payees()
    with _rails(rails) as rail_of:
        while True:
            with uow_factory() as uow:
                batch = uow.payouts.in_flight(after, BATCH)
                requests = [(r, _request(r, payees.of(uow, r))) for r in batch]
            if not batch:
                break
            after = batch[-1].id
            for record, request in requests:
                rail = rail_of(record.transfer.rail)
                if pace is not None:
                    pace.wait_turn(record.transfer.rail)
                answer, sends = rail.query(request), 0
                if answer.outcome is Outcome.NOT_FOUND and request.payee:
                    if pace is not None:
                        pace.wait_turn(record.transfer.rail)
                    answer, sends = rail.send(request), 1
                with uow_factory() as uow:
                    state = apply_provider_answer(uow, record.id, answer, clock.now_us(), sends)
                    uow.commit()
                counts[_bucket(state)] += 1
    return dict(counts)


def payout_json(record: PayoutRecord) -> dict[str, Any]:
    tr = record.transfer
    return {
        "id": record.id,
        "object": "payout_transfer",
        "grant_id": tr.grant_id,
        "account_id": record.account_id,
        "campaign": record.campaign_id,
        "rail": tr.rail,
        "seq": tr.seq,
        "attempt": tr.attempt,
        "request_id": tr.request_id,
        "amount": format_minor(tr.amount_minor, tr.currency),
        "currency": tr.currency,
        "state": tr.state.value,
        "attempts": record.attempts,
        "due_on": tr.due_on.isoformat(),
        "provider_ref": tr.provider_ref,
        "reason": tr.reason,
    }


def list_payouts(
    uow_factory: UnitOfWorkFactory,
    *,
    campaign_id: str | None = None,
    grant_id: str | None = None,
    state: str | None = None,
    starting_after: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    check_page_limit(limit)
    if state is not None and state not in {s.value for s in TransferState}:
        raise InputError(
            f"state: {state!r} is not a transfer state ({', '.join(s.value for s in TransferState)})",
            param="state",
        )
    with uow_factory() as uow:
        page = uow.payouts.page(
            campaign_id=campaign_id,
            grant_id=grant_id,
            state=state,
            starting_after=starting_after,
            limit=limit + 1,
        )
    return list_object(page, limit, payout_json)


def check_payout_books(verifier: ChainVerifier, totals: dict[tuple[str, str, str], int]) -> None:
    """``ledger verify``: each rail's in-transit and paid-out balances equal its transfers' amounts."""
    in_flight = {s.value for s in IN_FLIGHT_STATES}
    expected: dict[tuple[str, str], int] = {}
    for (rail, currency, state), amount in totals.items():
        if state in in_flight:
            key = (payouts_in_transit_account(rail), currency)
        elif state == TransferState.SUCCEEDED.value:
            key = (payouts_paid_account(rail), currency)
        else:
            continue
        expected[key] = expected.get(key, 0) + amount
    rails = {rail for rail, _, _ in totals}
    for rail in sorted(rails):
        for account in (payouts_in_transit_account(rail), payouts_paid_account(rail)):
            currencies = {c for r, c, _ in totals if r == rail}
            for currency in sorted(currencies):
                booked, stored = verifier.balance(account, currency), expected.get((account, currency), 0)
                if booked != stored:
                    verifier.report(
                        f"{account}: transfers total {format_minor(stored, currency)} {currency} but the "
                        f"ledger holds {format_minor(booked, currency)}"
                    )
