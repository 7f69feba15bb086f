"""Claims over HTTP (ADR 28), on SQLite and PostgreSQL: a customer claims with a receipt photo
(multipart); the stored photo has no GPS; the owner and reviewers fetch it, nobody else; files too
big, not what their name says, or decompression bombs are refused with a 4xx and nothing stored;
four-eyes holds; one serial is paid once; a retried request with its Idempotency-Key is replayed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from pledge.domain.serials import SerialRecord
from pledge.domain.timeutil import parse_instant
from pledge.usecases.serials import import_serials
from tests.integration.test_api_support import Api, running_api
from tests.support.images import ELF, png_bomb, receipt

SOLD = parse_instant("2011-10-05T10:00:00+08:00")
CLAIMS = {"open_until": "2022-06-30", "review_above": "500.00", "evidence": "required"}


@pytest.fixture
def api(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("PLEDGE_EVIDENCE_DIR", str(tmp_path / "evidence"))
    with running_api(db_url) as running:
        running.load_data(tmp_path)
        serials = [SerialRecord(f"S{n}", "mi-1", SOLD, "reseller", "CN", None) for n in range(20, 30)]
        import_serials(running.app.uow, [serials])
        running.launch(claims=CLAIMS)
        running.add_key("support2", "operator", None, 0)
        running.add_key("support_again", "operator", None, 0)
        yield running


def stored(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "evidence").rglob("*") if p.is_file())


def claim(
    api: Api, who: str, serial: str, files: list[tuple[str, bytes]], price: str = "300.00", **extra: str
) -> httpx.Response:
    fields = {"campaign": "founders-refund", "serial": serial, "purchased_at": "2011-10-05T10:00:00+08:00",
              "price": price, **extra}  # fmt: skip
    idempotency = {"Idempotency-Key": extra.pop("key")} if "key" in extra else {}
    return api.http.post(
        "/v1/claims",
        data={k: v for k, v in fields.items() if k != "key"},
        files=[("evidence", (name, data, "image/jpeg")) for name, data in files],
        headers=api.headers(who, **idempotency),
    )


def decide(api: Api, who: str, claim_id: str, approve: bool = True) -> httpx.Response:
    return api.post(f"/v1/claims/{claim_id}/decision", who, {"approve": approve, "reason": "receipt_ok"})


def test_a_customer_claims_with_a_photo_and_a_reviewer_approves(api: Api, tmp_path: Path) -> None:
    sent = claim(api, "customer", "S20", [("receipt.jpg", receipt())])
    assert sent.status_code == 201, sent.text
    body: dict[str, Any] = sent.json()
    assert (body["object"], body["state"], body["account_id"]) == ("claim", "pending", "A-cn-1")
    (kept,) = stored(tmp_path)
    with Image.open(kept) as image:
        assert not image.getexif()  # no GPS, no camera: the photo was re-encoded from its pixels
    url = f"/v1/claims/{body['id']}/evidence/{body['evidence'][0]['sha256']}"
    own = api.get(url, "customer")
    assert own.status_code == 200 and own.content == kept.read_bytes()
    assert own.headers["content-type"] == "image/jpeg" and own.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in own.headers["content-security-policy"]
    assert api.get(url, "support").status_code == 200
    assert api.get(url, "customer2").status_code == 404  # another customer: it does not exist
    assert api.get(f"/v1/claims/{body['id']}", "customer2").status_code == 404
    assert [c["id"] for c in api.get("/v1/claims", "customer2").json()["data"]] == []
    assert [c["id"] for c in api.get("/v1/claims", "support", state="pending").json()["data"]] == [body["id"]]

    approved = decide(api, "support", body["id"])
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    assert api.get(f"/v1/claims/{body['id']}", "customer").json()["state"] == "approved"
    assert decide(api, "support2", body["id"]).status_code == 409  # decided already
    # The same serial claimed by another account: rejected by the system, naming the first claim.
    again = claim(api, "customer2", "S20", [("r.jpg", receipt("other", size=(200, 120)))])
    assert again.status_code == 201 and again.json()["state"] == "rejected"
    (unpaid,) = [c for c in again.json()["checks"] if c["name"] == "serial_unpaid"]
    assert not unpaid["passed"] and body["id"] in unpaid["detail"]


def test_four_eyes_above_review_above(api: Api) -> None:
    sent = claim(api, "customer2", "S21", [("r.jpg", receipt("big one", size=(260, 170)))], price="1999.00")
    claim_id = sent.json()["id"]
    first = decide(api, "support", claim_id)
    assert first.status_code == 200 and first.json()["state"] == "pending" and first.json()["approvals"]
    assert decide(api, "support", claim_id).status_code in (403, 409)  # the same person again
    assert decide(api, "support2", claim_id).json()["state"] == "approved"
    assert api.get("/v1/ledger/verify", "finance").json()["ok"] is True


def test_bad_files_are_refused_with_a_4xx_and_nothing_is_stored(api: Api, tmp_path: Path) -> None:
    before = api.counts()
    cases = {
        "too big": ([("big.jpg", b"\xff\xd8\xff" + b"\0" * (6 << 20))], "evidence_too_large"),
        "renamed executable": ([("receipt.jpg", ELF)], "evidence_unsupported"),
        "decompression bomb": ([("bomb.jpg", png_bomb(50_000, 50_000))], None),
    }
    for what, (files, code) in cases.items():
        refused = claim(api, "customer", "S22", files)
        assert 400 <= refused.status_code < 500, (what, refused.status_code, refused.text)
        error = refused.json()["error"]
        assert error["param"] == "evidence" or error["param"].startswith("evidence"), (what, error)
        if code is not None:
            assert error["code"] == code, (what, error)
    unknown = claim(api, "customer", "S22", [("r.jpg", receipt())], serail="S22")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_field"
    assert "serial" in unknown.json()["error"]["message"]  # did you mean
    other = claim(api, "customer", "S22", [("r.jpg", receipt())], account="A-cn-2")
    assert other.status_code == 404  # a customer claims for their own account only
    assert stored(tmp_path) == []
    assert api.counts() == before
    assert api.get("/v1/claims", "support").json()["data"] == []


def test_a_retry_with_the_same_idempotency_key_is_replayed(api: Api) -> None:
    files = [("receipt.jpg", receipt("retry", size=(210, 140)))]
    first = claim(api, "customer", "S23", files, key="claim-S23-1")
    again = claim(api, "customer", "S23", files, key="claim-S23-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers.get("idempotent-replayed") == "true"
    assert len(api.get("/v1/claims", "support").json()["data"]) == 1


def test_an_account_moved_after_the_launch_is_flagged_over_http(api: Api, tmp_path: Path) -> None:
    accounts = (tmp_path / "accounts.csv").read_text(encoding="utf-8").replace("A-hk-1,HK", "A-hk-1,CN")
    moved = api.http.post(
        "/v1/accounts/import?update=true",
        content=accounts.encode(),
        headers=api.headers("operator", Content_Type="text/csv"),
    )
    assert moved.status_code == 202, moved.text
    assert api.wait_job(moved.json()["id"])["result"]["updated"] == 1
    sent = claim(api, "support", "S25", [("r.jpg", receipt("hk", size=(210, 160)))], account="A-hk-1")
    assert sent.status_code == 201, sent.text
    (flag,) = [f for f in sent.json()["flags"] if f["name"] == "region_changed"]
    assert flag["detail"].startswith("account A-hk-1 moved from HK to CN on ")
    assert sent.json()["state"] == "pending"
    listed = api.get("/v1/claims", "support", state="pending").json()["data"]
    assert [f["name"] for f in listed[0]["flags"]] == ["region_changed"]
