"""Claims on the pages (TestClient): a customer claims a missing purchase on /me with a receipt photo;
customer service reviews it in the console and decides; files are shown to the owner and reviewers
only, stripped of their location; a file that is too big, or not what its name says, stores nothing.
The browser test (tests/e2e/browser/test_claims_browser.py) clicks through the same flow."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pledge.adapters.files.readers import read_accounts, read_purchases
from pledge.adapters.sqlalchemy.api_store import ApiStore
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.claims import ClaimState
from pledge.domain.serials import SerialRecord
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.server import create_app
from pledge.entrypoints.web.context import Settings
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.claims import ClaimRequest
from pledge.usecases.import_data import Corrector, import_accounts, import_purchases
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.serials import import_serials
from tests.e2e.test_console import csrf_of, flash_of
from tests.support.data import campaign, write_files
from tests.support.images import receipt
from tests.unit.test_usecases import account_records

NOW = "2021-08-10T12:00:00+08:00"
CID = "founders-refund"
SOLD = parse_instant("2011-10-05T10:00:00+08:00")
PEOPLE = {  # label → (name, scope, account)
    "support": ("cs.chen", "support", None),
    "operator": ("ops.zhao", "operator", None),
    "support_same_person": ("cs.chen", "operator", None),  # the same person, a second key
    "finance": ("fin.qian", "finance", None),
    "customer1": ("A-cn-3", "customer", "A-cn-3"),
    "customer2": ("A-cn-4", "customer", "A-cn-4"),
}


@dataclass
class Site:
    api: Any
    keys: dict[str, str]
    app: App
    evidence: Path

    def client(self, who: str, base: str) -> TestClient:
        client = TestClient(self.api, base_url="http://testserver")
        page = client.get(f"{base}/sign-in")
        signed = client.post(
            f"{base}/sign-in",
            data={"csrf": csrf_of(page.text), "key": self.keys[who], "next": f"{base}/"},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        return client

    def stored(self) -> list[Path]:
        return sorted(p for p in self.evidence.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("claims-console")
    evidence = folder / "evidence"
    previous = os.environ.get("PLEDGE_EVIDENCE_DIR")
    os.environ["PLEDGE_EVIDENCE_DIR"] = str(evidence)
    app = App(f"sqlite:///{folder / 'claims.db'}", parse_instant(NOW))
    upgrade(app.engine)
    accounts, purchases = write_files(folder)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    serials = [SerialRecord(f"S{n}", "mi-1", SOLD, "reseller", "CN", None) for n in range(20, 40)]
    import_serials(app.uow, [serials])
    claims = {"open_until": "2022-06-30", "review_above": "500.00", "evidence": "required"}
    apply_campaign(app.uow, app.rules, app.clock, campaign(claims=claims), "ops.li")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance.wang")
    launch_campaign(app.uow, app.rules, app.clock, CID, "ops.zhao")
    store = ApiStore(app.engine)
    keys = {}
    for label, (name, scope, account) in PEOPLE.items():
        _, secret = store.create_key(
            scope=scope, name=name, account_id=account, expires_at_us=None, now_us=time.time_ns() // 1000
        )
        keys[label] = secret
    api = create_app(app, Settings(webhook_worker=False))
    try:
        with TestClient(api):
            yield Site(api, keys, app, evidence)
    finally:
        app.close()
        if previous is None:
            os.environ.pop("PLEDGE_EVIDENCE_DIR", None)
        else:
            os.environ["PLEDGE_EVIDENCE_DIR"] = previous


def claim_on_me(client: TestClient, serial: str, price: str, *files: tuple[str, bytes, str]) -> Any:
    page = client.get("/me/")
    fields = {
        "csrf": csrf_of(page.text),
        "back": "/me/",
        "tz": "Asia/Shanghai",
        "campaign": CID,
        "serial": serial,
        "purchased_at": "2011-10-05T10:00",
        "price": price,
    }
    return client.post("/me/claims", data=fields, files=[("evidence", f) for f in files])


def decision(html: str, claim_id: str, approve: bool = True) -> dict[str, str]:
    return {
        "csrf": csrf_of(html),
        "back": f"/console/claims/{claim_id}",
        "decision": "approve" if approve else "reject",
        "reason": "receipt_verified" if approve else "receipt_unreadable",
    }


def claim_ids(html: str) -> list[str]:
    return re.findall(r'id="claim-(clm_[0-9a-f]+)"', html)


def test_a_customer_claims_with_a_photo_and_support_approves_it(site: Site) -> None:
    me = site.client("customer1", "/me")
    form = me.get("/me/")
    assert 'enctype="multipart/form-data"' in form.text and "Bought one but it is not listed?" in form.text
    sent = claim_on_me(me, "S20", "300.00", ("receipt.jpg", receipt(), "image/jpeg"))
    assert sent.status_code == 200
    assert "was received and will be reviewed" in flash_of(sent.text)
    (claim_id,) = claim_ids(sent.text)
    assert "waiting for review" in sent.text
    # The stored photo has no location and no camera tags; the owner can see it, nobody else.
    (stored,) = site.stored()
    with Image.open(stored) as kept:
        assert not kept.getexif()
    link = re.search(rf'href="(/me/claims/{claim_id}/evidence/[0-9a-f]{{64}})"', sent.text)
    assert link
    own = me.get(link.group(1))
    assert own.status_code == 200 and own.headers["content-type"] == "image/jpeg"
    assert (
        own.headers["cache-control"] == "private, no-store"
        and "sandbox" in own.headers["content-security-policy"]
    )
    assert own.content == stored.read_bytes()
    other = site.client("customer2", "/me")
    assert other.get(link.group(1)).status_code == 404
    assert claim_id not in other.get("/me/").text
    # Support: the queue, the claim with its checks and photo, the decision.
    support = site.client("support", "/console")
    queue = support.get("/console/claims")
    assert claim_id in queue.text and "Claims to review" in queue.text
    page = support.get(f"/console/claims/{claim_id}")
    assert "Serial not paid before" in page.text and f"/console/claims/{claim_id}/evidence/" in page.text
    photo = support.get(link.group(1).replace("/me/", "/console/"))
    assert photo.status_code == 200 and photo.content == own.content
    decided = support.post(
        f"/console/claims/{claim_id}/decide",
        data=decision(page.text, claim_id),
    )
    assert f"Claim {claim_id}: approved." in flash_of(decided.text)
    assert "Envelope gr_" in decided.text
    # The customer sees the outcome; the envelope is theirs; the books balance.
    after = me.get("/me/")
    assert "approved" in after.text
    assert verify_ledger(site.app.uow).ok is True
    # The finance scope reads the queue but offers no decision.
    finance = site.client("finance", "/console")
    assert 'id="decide"' not in finance.get(f"/console/claims/{claim_id}").text


def test_four_eyes_above_review_above_on_the_page(site: Site) -> None:
    me = site.client("customer2", "/me")
    sent = claim_on_me(me, "S21", "1999.00", ("r.jpg", receipt("other", size=(260, 170)), "image/jpeg"))
    (claim_id,) = claim_ids(sent.text)

    def decide(who: str) -> str:
        client = site.client(who, "/console")
        page = client.get(f"/console/claims/{claim_id}")
        done = client.post(
            f"/console/claims/{claim_id}/decide",
            data=decision(page.text, claim_id),
        )
        return flash_of(done.text)

    assert "a second person must approve it too" in decide("support")
    assert "a second, different person must" in decide("support_same_person")  # the same person, another key
    assert site.app.claim_desk().get(claim_id).state is ClaimState.PENDING
    assert f"Claim {claim_id}: approved." in decide("operator")


def test_bad_files_store_nothing_and_say_why(site: Site) -> None:
    me = site.client("customer1", "/me")
    before, claims_before = site.stored(), site.app.claim_desk().list(account_id="A-cn-3").rows
    big = claim_on_me(me, "S22", "300.00", ("big.jpg", b"\xff\xd8\xff" + b"\0" * (6 << 20), "image/jpeg"))
    assert big.status_code == 200
    assert "big.jpg: is 6,291,459 bytes; at most 5,242,880 are taken" in flash_of(big.text)
    liar = claim_on_me(me, "S23", "300.00", ("receipt.jpg", b"MZ\x90\x00" + b"\0" * 512, "image/jpeg"))
    assert "receipt.jpg" in flash_of(liar.text) and "judged by its content" in flash_of(liar.text)
    assert site.stored() == before
    assert site.app.claim_desk().list(account_id="A-cn-3").rows == claims_before


def test_the_claim_pages_in_chinese(site: Site) -> None:
    me = site.client("customer1", "/me")
    page = me.get("/me/?lang=zh-CN")
    assert "我的补登申请" in page.text and "提交申请" in page.text
    support = site.client("support", "/console")
    assert "补登申请审核" in support.get("/console/claims?lang=zh-CN&state=approved").text


def test_pages_need_a_session_of_their_own_kind(site: Site) -> None:
    anonymous = TestClient(site.api, base_url="http://testserver")
    assert anonymous.get("/console/claims", follow_redirects=False).status_code == 303  # sign in first
    me = site.client("customer1", "/me")
    assert me.get("/console/claims", follow_redirects=False).status_code == 303  # not a console session


def test_a_claim_by_an_account_moved_after_the_launch_shows_the_flag(site: Site) -> None:
    # Hong Kong's account is moved to the mainland by an --update import after the launch (at NOW).
    moved = [r._replace(region="CN") if r.account_id == "A-hk-1" else r for r in account_records()]
    corrector = Corrector(site.app.rules, site.app.clock, "ops.li")
    assert import_accounts(site.app.uow, [moved], update=True, corrector=corrector).updated == 1
    request = ClaimRequest(CID, "A-hk-1", "S30", "2011-10-05T10:00:00+08:00", "300.00",
                           [("r.jpg", receipt("hk", size=(230, 150)))])  # fmt: skip
    claim_id = site.app.claim_desk().submit(request, "cs.liu").id
    support = site.client("support", "/console")
    page = support.get(f"/console/claims/{claim_id}").text
    assert "Account moved to another region after the launch" in page
    assert "account A-hk-1 moved from HK to CN on 2021-08-10T12:00:00+08:00" in page
    assert "Account moved to another region after the launch" in support.get("/console/claims").text
    assert "活动上线后账户地区发生变更" in support.get(f"/console/claims/{claim_id}?lang=zh-CN").text
