"""Claims on the memory fakes (ADR 28): checks, flags, four-eyes, one serial one payout."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from pledge.adapters.evidence.processing import ImageEvidenceProcessor
from pledge.adapters.memory import MemoryStore, memory_uow_factory
from pledge.adapters.memory.claims import MemoryEvidenceStore
from pledge.domain.campaign import parse_cashback_terms
from pledge.domain.claims import Claim, ClaimState, ClaimTerms, parse_claim_terms
from pledge.domain.errors import InputError, NotFoundError, RefusedError
from pledge.domain.schemas import CASHBACK_CAMPAIGN, check_document
from pledge.domain.serials import SerialRecord
from pledge.domain.timeutil import US_PER_DAY, parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.claims import ClaimDesk, ClaimRequest
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.serials import import_serials
from tests.support.data import campaign
from tests.support.images import receipt, recompressed
from tests.unit.test_usecases import CID, NOW, account_records, purchase_records, rules

CLAIMS = {"open_until": "2022-06-30", "review_above": "500.00"}
SOLD = parse_instant("2011-10-05T10:00:00+08:00")


@dataclass
class Clock:
    instant_us: int = NOW

    def now_us(self) -> int:
        return self.instant_us


@dataclass
class Desk:
    store: MemoryStore
    desk: ClaimDesk
    clock: Clock
    files: MemoryEvidenceStore = field(default_factory=MemoryEvidenceStore)


@pytest.fixture
def w() -> Desk:
    store = MemoryStore()
    uow = memory_uow_factory(store)
    clock = Clock()
    import_accounts(uow, [account_records()])
    import_purchases(uow, [purchase_records()])
    serials = [SerialRecord(f"S{n}", "mi-1", SOLD, "reseller", "CN", None) for n in range(20, 30)]
    import_serials(uow, [serials])
    apply_campaign(uow, rules, clock, campaign(claims=CLAIMS), "ops")
    approve_campaign(uow, rules, clock, CID, "finance")
    launch_campaign(uow, rules, clock, CID, "finance")
    run_campaign(uow, rules, clock, CID, "ops")
    files = MemoryEvidenceStore()
    return Desk(store, ClaimDesk(uow, rules, clock, ImageEvidenceProcessor(), files), clock, files)


def submit(w: Desk, account: str, serial: str, *files: bytes, price: str = "1999.00") -> Claim:
    evidence = [(f"r{i}.jpg", data) for i, data in enumerate(files)]
    request = ClaimRequest(CID, account, serial, "2011-10-05T10:00:00+08:00", price, evidence)
    return w.desk.submit(request, "cs.liu")


def flags(claim: Claim) -> list[str]:
    return [f.name for f in claim.flags]


def test_claim_terms_are_validated_and_published() -> None:
    terms = parse_cashback_terms(campaign(claims=CLAIMS))
    assert terms.claims == ClaimTerms(date(2022, 6, 30), 50_000, "required")
    assert terms.canonical()["claims"] == {"open_until": "2022-06-30", "review_above": "500.00",
                                           "evidence": "required"}  # fmt: skip
    assert "claims" not in parse_cashback_terms(campaign()).canonical()  # older terms keep their hash
    with pytest.raises(InputError, match=r"claims\.open_untl"):
        check_document(campaign(claims={"open_untl": "2022-06-30"}), CASHBACK_CAMPAIGN)
    with pytest.raises(InputError, match=r"claims\.evidence"):
        parse_claim_terms({"open_until": "2022-06-30", "evidence": "maybe"}, "CNY")
    with pytest.raises(InputError, match=r"claims\.review_above"):
        parse_claim_terms({"open_until": "2022-06-30", "review_above": 5.5}, "CNY")


def test_flags_near_duplicates_and_bursts_but_not_ones_own_files(w: Desk) -> None:
    photo = receipt()
    first = submit(w, "A-cn-3", "S20", photo, price="300.00")
    assert first.state is ClaimState.PENDING and flags(first) == []
    assert flags(submit(w, "A-cn-3", "S21", photo, price="300.00")) == []  # the same person's file again
    near = submit(w, "A-cn-4", "S22", recompressed(photo), price="300.00")
    assert flags(near) == ["similar_evidence"]
    same = submit(w, "A-cn-4", "S23", photo, price="300.00")
    assert "duplicate_evidence" in flags(same)
    w.clock.instant_us += 60
    busy = submit(w, "A-cn-3", "S24", receipt("x", size=(100, 300)), price="300.00")
    assert "burst" not in flags(busy)
    assert "burst" in flags(submit(w, "A-cn-3", "S25", receipt("y", size=(300, 100)), price="300.00"))
    later = w.clock.instant_us + US_PER_DAY + 1
    w.clock.instant_us = later
    assert "burst" not in flags(submit(w, "A-cn-3", "S26", receipt("z", size=(120, 120)), price="300.00"))
    assert len(w.files.files) >= 4


def test_four_eyes_above_review_above_and_never_ones_own(w: Desk) -> None:
    claim = submit(w, "A-cn-3", "S20", receipt())
    cid = claim.id
    assert "four_eyes" in flags(claim)
    with pytest.raises(RefusedError, match="someone else"):
        w.desk.decide(cid, approve=True, reason="ok", actor="CS.Liu (key_1)")
    with pytest.raises(RefusedError, match="someone else"):
        w.desk.decide(cid, approve=True, reason="ok", actor="a-cn-3")
    with pytest.raises(InputError, match="reason"):
        w.desk.decide(cid, approve=True, reason="Looks fine!", actor="ops.li")
    assert w.desk.decide(cid, approve=True, reason="ok", actor="ops.li").claim.state is ClaimState.PENDING
    with pytest.raises(RefusedError, match="second, different"):
        w.desk.decide(cid, approve=True, reason="ok", actor="Ops.Li (key_2)")
    done = w.desk.decide(cid, approve=True, reason="ok", actor="ops.wang")
    assert done.claim.state is ClaimState.APPROVED
    assert done.grant is not None and done.grant.amount_minor == 199_900
    with pytest.raises(RefusedError, match="already approved"):
        w.desk.decide(cid, approve=False, reason="late", actor="ops.zhao")
    assert verify_ledger(memory_uow_factory(w.store)).ok is True


def test_a_purchase_before_the_sale_is_flagged_and_one_in_the_future_refused(w: Desk) -> None:
    early = ClaimRequest(CID, "A-cn-3", "S20", "2011-10-01T10:00:00+08:00", "300.00", [("r.jpg", receipt())])
    assert flags(w.desk.submit(early, "cs.liu")) == ["purchased_before_sold"]
    future = ClaimRequest(CID, "A-cn-4", "S21", "2031-10-01T10:00:00+08:00", "300.00", [("r.jpg", receipt())])
    with pytest.raises(InputError, match="in the future"):
        w.desk.submit(future, "cs.liu")


def test_one_serial_one_payout_across_accounts(w: Desk) -> None:
    a = submit(w, "A-cn-3", "S20", receipt(), price="300.00")
    b = submit(w, "A-cn-4", "S20", receipt("b", size=(200, 300)), price="300.00")
    assert "serial_claimed_elsewhere" in flags(b)
    w.desk.decide(a.id, approve=True, reason="ok", actor="ops.li")
    with pytest.raises(RefusedError, match="already paid"):
        w.desk.decide(b.id, approve=True, reason="ok", actor="ops.li")
    rejected = w.desk.decide(b.id, approve=False, reason="serial_paid", actor="ops.li").claim
    assert (rejected.state, rejected.decided_by, rejected.reason) == (
        ClaimState.REJECTED,
        "ops.li",
        "serial_paid",
    )
    queue = w.desk.list(state="approved")
    assert [c.id for c in queue.rows] == [a.id]


def test_a_customer_sees_only_their_own_claims_and_evidence(w: Desk) -> None:
    photo = receipt()
    mine = submit(w, "A-cn-3", "S20", photo, price="300.00")
    theirs = submit(w, "A-cn-4", "S21", receipt("other", size=(200, 120)), price="300.00")
    own = w.desk.list(account_id="A-cn-3")
    assert [c.id for c in own.rows] == [mine.id]
    assert len(w.desk.list().rows) == 2  # a reviewer sees the queue
    assert w.desk.get(mine.id, account_id="A-cn-3").id == mine.id
    with pytest.raises(NotFoundError):  # another account's claim does not exist for this customer
        w.desk.get(theirs.id, account_id="A-cn-3")
    sha = mine.evidence[0].sha256
    kind, content = w.desk.evidence(mine.id, sha, account_id="A-cn-3")
    assert kind == "jpeg"
    assert content == w.files.open(sha)
    assert w.desk.evidence(mine.id, sha)[1] == content  # a reviewer
    with pytest.raises(NotFoundError):  # the owner of the other claim cannot reach this file …
        w.desk.evidence(mine.id, sha, account_id="A-cn-4")
    with pytest.raises(NotFoundError):  # … nor through their own claim, which does not hold it
        w.desk.evidence(theirs.id, sha, account_id="A-cn-4")


def test_the_claim_form_offers_the_campaigns_taking_claims_today(w: Desk) -> None:
    (open_now,) = w.desk.open_campaigns()
    assert (open_now.campaign_id, open_now.currency) == (CID, "CNY")
    w.clock.instant_us = parse_instant("2022-07-01T00:00:00+08:00")  # the day after open_until, local
    assert w.desk.open_campaigns() == ()


def test_the_customer_hears_of_every_decision_once(w: Desk) -> None:
    def told(account: str) -> list[str]:
        with memory_uow_factory(w.store)() as uow:
            return sorted(
                f"{r.channel.value} {r.topic}" for r in uow.notifications.history([account]).get(account, [])
            )

    refused = submit(w, "A-cn-3", "S99", receipt(), price="300.00")  # not in the register: the system says no
    assert refused.state is ClaimState.REJECTED
    assert told("A-cn-3") == [f"inapp claim_decided:{refused.id}"]  # no email or phone on file
    pending = submit(w, "A-cn-4", "S20", receipt("b", size=(200, 120)), price="300.00")
    assert told("A-cn-4") == []  # waiting for review: nothing to tell yet
    w.desk.decide(pending.id, approve=True, reason="receipt_ok", actor="cs.liu.other")
    assert told("A-cn-4") == [f"inapp claim_decided:{pending.id}"]
    messages = w.store.notifications.messages.values()
    (message,) = [m for m in messages if m.account_id == "A-cn-4" and m.channel.value == "inapp"]
    assert message.params["decision"] in ("approved", "recorded") and message.template == "claim_decided"
