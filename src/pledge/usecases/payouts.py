"""Payouts: send the transfers due (planned first by ``payout_plan``), ask about those in flight (ADR 24).

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
from dataclasses import replace
from datetime import date
from typing import Final

from pledge.domain.errors import InputError
from pledge.domain.ledger import customer_account, payouts_in_transit_account
from pledge.domain.payout_transfers import Outcome, ProviderAnswer, TransferState, mark_sent
from pledge.domain.payouts import WALLET, RailLimits, has_day_room
from pledge.usecases.payout_outcomes import apply_provider_answer, close_if_window_ended, posting
from pledge.usecases.payout_plan import BATCH, PayoutCampaign, payout_campaigns, plan_payouts
from pledge.usecases.payout_ports import PayoutRail, PayoutRecord, RequestPace, TransferRequest
from pledge.usecases.ports import Clock, UnitOfWork, UnitOfWorkFactory

ANSWERS_PER_COMMIT: Final = 20  # answers recorded per transaction; a kill -9 leaves these to sync
RailFactory = Callable[[str], PayoutRail]
COUNTED: Final = ("submitted", "succeeded", "failed", "unknown", "waiting_user", "deferred")


def _counts() -> Counter[str]:
    return Counter(dict.fromkeys(COUNTED, 0))


def _bucket(state: TransferState) -> str:
    return "failed" if state in (TransferState.CANCELLED, TransferState.RETURNED) else state.value


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


def _lock_days(uow: UnitOfWork, campaign: PayoutCampaign, due: list[PayoutRecord], today: date) -> None:
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

    def __init__(
        self, uow: UnitOfWork, campaign: PayoutCampaign, due: list[PayoutRecord], today: date
    ) -> None:
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
    uow: UnitOfWork,
    campaign: PayoutCampaign,
    today: date,
    after: str,
    limit: int,
    payees: _Payees,
    now_us: int,
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
        campaigns = payout_campaigns(uow, campaign_id)
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
