"""``pledge import serials`` and ``pledge claims`` as a real process on SQLite and PostgreSQL (ADR 28):
a registered in-window serial is approved (by two people above review_above) and paid once through the
campaign's run; the same serial again, or one already granted by import, is rejected by the system naming
the grant; a receipt reused by another account is flagged; bad files are refused with nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_cli import NOW, Pledge, write_campaign
from tests.support.data import write_files
from tests.support.images import ELF, png_bomb, receipt

CID = "founders-refund"
CLAIMS = {"open_until": "2022-06-30", "review_above": "500.00", "evidence": "required"}
SERIALS = """serial,sku,sold_at,channel,region,activated_at
S1,mi-1,2011-09-01T00:00:00+08:00,online,CN,2011-09-02T10:00:00+08:00
S20,mi-1,2011-10-05T10:00:00+08:00,reseller,CN,
S21,mi-1,2011-10-05T10:00:00+08:00,reseller,HK,2011-10-06T10:00:00+08:00
S22,mi-1,2011-12-20T10:00:00+08:00,reseller,CN,2011-12-01T10:00:00+08:00
"""


@pytest.fixture
def pledge(db_url: str, tmp_path: Path) -> Pledge:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    accounts, purchases = write_files(tmp_path)
    cli.run("import", "accounts", str(accounts))
    cli.run("import", "purchases", str(purchases))
    serials = tmp_path / "serials.csv"
    serials.write_text(SERIALS, encoding="utf-8")
    assert cli.json("import", "serials", str(serials)) == {"imported": 4, "unchanged": 0}
    assert cli.json("import", "serials", str(serials)) == {"imported": 0, "unchanged": 4}
    cli.json(
        "campaign", "apply", str(write_campaign(tmp_path, claims=CLAIMS)), "--key", cli.key("admin", "ops")
    )
    cli.json("campaign", "approve", CID, "--key", cli.key("approver", "finance"))
    cli.json("campaign", "launch", CID, "--key", cli.key("operator", "ops.zhao"), "--now", NOW)
    assert cli.json("campaign", "run", CID, "--now", NOW)["issued"] == 3
    return cli


def _file(folder: Path, name: str, content: bytes) -> str:
    path = folder / name
    path.write_bytes(content)
    return str(path)


def _submit(cli: Pledge, account: str, serial: str, *evidence: str, expect: int = 0) -> Any:
    args = ["claims", "submit", "--campaign", CID, "--account", account, "--serial", serial]
    args += ["--purchased-at", "2011-10-05T10:00:00+08:00", "--price", "1999.00", "--now", NOW]
    args += ["--actor", "cs.liu"]
    for path in evidence:
        args += ["--evidence", path]
    return cli.json(*args, expect=expect)


def _checks(claim: dict[str, Any]) -> dict[str, bool]:
    return {c["name"]: c["passed"] for c in claim["checks"]}


def test_a_claim_is_checked_reviewed_by_two_and_paid_once(pledge: Pledge, tmp_path: Path) -> None:
    cli = pledge
    photo = _file(tmp_path, "receipt.jpg", receipt())
    claim = _submit(cli, "A-cn-3", "S20", photo)
    assert set(claim) >= {"id", "state", "checks", "flags"}
    assert claim["state"] == "pending" and all(_checks(claim).values()), claim
    assert [f["name"] for f in claim["flags"]] == ["four_eyes"]  # 1999.00 > review_above 500.00
    assert set(_checks(claim)) >= {"claim_window", "evidence", "serial_registered", "serial_unpaid",
                                   "account_region", "purchased", 'purchase.sku == "mi-1"'}  # fmt: skip
    stored = list((tmp_path / "pledge-evidence").rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert len(files) == 1
    with Image.open(files[0]) as kept:
        assert not kept.getexif()  # GPS and camera gone

    # The same receipt from another account is flagged; a serial sold in HK fails the region check.
    again = _submit(cli, "A-cn-4", "S21", photo)
    assert again["state"] == "rejected" and again["decided_by"] == "system"
    assert not _checks(again)["account_region"] and "account_region" in again["reason"]
    assert "duplicate_evidence" in [f["name"] for f in again["flags"]]

    queue = cli.json("claims", "list", "--campaign", CID, "--state", "pending")
    assert [c["id"] for c in queue["data"]] == [claim["id"]] and queue["has_more"] is False

    support = cli.key("support", "cs.liu")  # the person who submitted it may not decide it
    refused = cli.run("claims", "decide", claim["id"], "--approve", "--reason", "receipt_ok",
                      "--key", support, "--now", NOW, expect=1)  # fmt: skip
    assert "someone else decides" in refused.stderr
    wang = cli.key("support", "cs.wang")
    first = cli.json("claims", "decide", claim["id"], "--approve", "--reason", "receipt_ok",
                     "--key", wang, "--now", NOW)  # fmt: skip
    assert first["state"] == "pending" and first["approvals"][0].startswith("cs.wang")
    twice = cli.run("claims", "decide", claim["id"], "--approve", "--reason", "receipt_ok",
                    "--key", wang, "--now", NOW, expect=1)  # fmt: skip
    assert "second, different person" in twice.stderr
    done = cli.json("claims", "decide", claim["id"], "--approve", "--reason", "receipt_ok",
                    "--key", cli.key("operator", "ops.li"), "--now", NOW)  # fmt: skip
    assert done["state"] == "approved" and done["grant"]["amount"] == "1999.00"
    assert done["grant"]["account_id"] == "A-cn-3" and done["grant_id"] == done["grant"]["id"]
    grants = cli.json("grants", "list", "--campaign", CID, "--account", "A-cn-3")["data"]
    assert [g["purchase_id"] for g in grants] == [f"claim:{claim['id']}"]
    assert cli.json("campaign", "report", CID)["issued_amount"] == "7296.00"  # 5297.00 + 1999.00
    assert cli.json("ledger", "verify")["ok"] is True

    # One serial, one payout: S20 again, and S1 (granted through the imported purchase P01).
    second = _submit(cli, "A-cn-4", "S20", _file(tmp_path, "other.jpg", receipt("other", size=(200, 300))))
    assert second["state"] == "rejected" and not _checks(second)["serial_unpaid"]
    assert done["grant_id"] in next(c["detail"] for c in second["checks"] if c["name"] == "serial_unpaid")
    imported = _submit(cli, "A-cn-4", "S1", _file(tmp_path, "third.jpg", receipt("third", size=(300, 200))))
    detail = next(c["detail"] for c in imported["checks"] if c["name"] == "serial_unpaid")
    p01 = next(g for g in cli.json("grants", "list", "--campaign", CID)["data"] if g["purchase_id"] == "P01")
    assert imported["state"] == "rejected" and p01["id"] in detail


def test_bad_files_and_bad_input_store_nothing(pledge: Pledge, tmp_path: Path) -> None:
    cli = pledge
    big = _file(tmp_path, "big.jpg", b"\xff\xd8\xff" + b"\x00" * (6 * 1024 * 1024))
    exe = _file(tmp_path, "receipt.jpg", ELF)
    bomb = _file(tmp_path, "bomb.png", png_bomb(30_000, 30_000))
    for path, words in ((big, "at most 5242880"), (exe, "not a JPEG, PNG"), (bomb, "decompression bomb")):
        refused = cli.run("claims", "submit", "--campaign", CID, "--account", "A-cn-3", "--serial", "S20",
                          "--purchased-at", "2011-10-05T10:00:00+08:00", "--price", "1999.00",
                          "--evidence", path, "--now", NOW, expect=2)  # fmt: skip
        assert words in refused.stderr
    assert cli.json("claims", "list")["data"] == []
    assert not (tmp_path / "pledge-evidence").exists()
    # No evidence where the campaign requires it, a serial not in the register, a date out of window.
    bare = _submit(cli, "A-cn-3", "S99")
    assert bare["state"] == "rejected"
    assert {k for k, v in _checks(bare).items() if not v} == {
        "evidence",
        "serial_registered",
        "account_region",
        'purchase.sku == "mi-1"',  # an unregistered serial has no known sku
    }
    late = _submit(cli, "A-cn-3", "S22", _file(tmp_path, "r.jpg", receipt()))
    assert late["state"] == "pending"  # sold after the window, but activated inside it
    closed = cli.json("claims", "submit", "--campaign", CID, "--account", "A-cn-3", "--serial", "S20",
                      "--purchased-at", "2011-10-05T10:00:00+08:00", "--price", "1999.00",
                      "--evidence", _file(tmp_path, "s.jpg", receipt("s")),
                      "--now", "2022-07-01T00:00:00+08:00")  # fmt: skip
    assert closed["state"] == "rejected" and not _checks(closed)["claim_window"]


def test_an_account_moved_into_the_region_after_the_launch_is_flagged(pledge: Pledge, tmp_path: Path) -> None:
    cli = pledge
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        accounts.read_text(encoding="utf-8").replace("A-hk-1,HK", "A-hk-1,CN"), encoding="utf-8"
    )
    later = "2021-08-11T09:30:00.5+08:00"  # the day after the launch
    moved = cli.json("import", "accounts", str(accounts), "--update", "--now", later)
    assert (moved["updated"], moved["unchanged"]) == (1, 6)
    claim = cli.json("claims", "submit", "--campaign", CID, "--account", "A-hk-1", "--serial", "S20",
                     "--purchased-at", "2011-10-05T10:00:00+08:00", "--price", "99.00",
                     "--evidence", _file(tmp_path, "r.jpg", receipt()), "--now", later)  # fmt: skip
    assert claim["state"] == "pending" and all(_checks(claim).values()), claim  # a flag never rejects
    assert claim["flags"] == [
        {
            "name": "region_changed",
            "detail": "account A-hk-1 moved from HK to CN on 2021-08-11T09:30:00+08:00, after the campaign "
            "was launched on 2021-08-10T12:00:00+08:00",
        }
    ]
    assert cli.json("claims", "list", "--state", "pending")["data"][0]["flags"] == claim["flags"]
