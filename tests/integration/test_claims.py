"""Claims on SQLite and PostgreSQL (ADR 28): two reviewers approving two claims of one serial at the
same moment pay it once; the register's import is all or nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from pledge.adapters.evidence.local import LocalEvidenceStore
from pledge.adapters.evidence.processing import ImageEvidenceProcessor
from pledge.adapters.files.readers import read_accounts, read_purchases, read_serials
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.claims import ClaimState
from pledge.domain.errors import ConflictError, InputError, PledgeError, RefusedError
from pledge.domain.timeutil import parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.claims import ClaimDecision, ClaimDesk, ClaimRequest
from pledge.usecases.import_data import import_accounts, import_purchases
from pledge.usecases.issue import run_campaign
from pledge.usecases.ledger_verify import verify_ledger
from pledge.usecases.serials import SerialImport, import_serials
from tests.support.data import campaign, write_files
from tests.support.images import receipt

NOW = parse_instant("2021-08-10T12:00:00+08:00")
CID = "founders-refund"
SERIALS = "serial,sku,sold_at,channel,region,activated_at\nS20,mi-1,2011-10-05T10:00:00+08:00,,CN,\n"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> App:
    app = App(db_url, NOW)
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    (tmp_path / "serials.csv").write_text(SERIALS, encoding="utf-8")
    import_serials(app.uow, read_serials(tmp_path / "serials.csv"))
    apply_campaign(app.uow, app.rules, app.clock, campaign(claims={"open_until": "2022-06-30"}), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    run_campaign(app.uow, app.rules, app.clock, CID, "ops")
    return app


def desk(app: App, folder: Path) -> ClaimDesk:
    return ClaimDesk(
        app.uow, app.rules, app.clock, ImageEvidenceProcessor(), LocalEvidenceStore(folder / "ev")
    )


def test_two_concurrent_approvals_of_one_serial_pay_it_once(app: App, tmp_path: Path) -> None:
    claims = desk(app, tmp_path)
    ids = []
    for account, photo in (("A-cn-3", receipt("a")), ("A-cn-4", receipt("b", size=(200, 300)))):
        request = ClaimRequest(CID, account, "S20", "2011-10-05T10:00:00+08:00", "999.00", [("r.jpg", photo)])
        claim = claims.submit(request, "cs.liu")
        assert claim.state is ClaimState.PENDING, claim
        ids.append(claim.id)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def approve(claim_id: str, reviewer: str) -> None:
        start.wait()
        try:
            outcomes[claim_id] = desk(app, tmp_path).decide(
                claim_id, approve=True, reason="ok", actor=reviewer
            )
        except PledgeError as exc:
            outcomes[claim_id] = exc

    threads = [threading.Thread(target=approve, args=(i, f"ops.{n}")) for n, i in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    won = [o for o in outcomes.values() if isinstance(o, ClaimDecision)]
    lost = [o for o in outcomes.values() if not isinstance(o, ClaimDecision)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], (ConflictError, RefusedError)) and "already paid" in str(lost[0])
    with app.engine.connect() as conn:
        paid = conn.execute(text("SELECT COUNT(*) FROM grants WHERE serial = 'S20'")).scalar_one()
        approved = conn.execute(text("SELECT COUNT(*) FROM claims WHERE state = 'approved'")).scalar_one()
    assert (paid, approved) == (1, 1)
    assert verify_ledger(app.uow).ok is True
    app.close()


def test_the_database_refuses_a_second_approved_claim_for_a_serial(app: App, tmp_path: Path) -> None:
    claims = desk(app, tmp_path)
    for account in ("A-cn-3", "A-cn-4"):
        request = ClaimRequest(CID, account, "S20", "2011-10-05T10:00:00+08:00", "99.00",
                               [("r.jpg", receipt(account))])  # fmt: skip
        claims.submit(request, "cs.liu")
    with app.engine.begin() as conn:
        conn.execute(
            text("UPDATE claims SET state = 'approved', paid_serial = serial WHERE account_id = 'A-cn-3'")
        )
    with pytest.raises(Exception, match=r"(?i)unique"), app.engine.begin() as conn:
        conn.execute(
            text("UPDATE claims SET state = 'approved', paid_serial = serial WHERE account_id = 'A-cn-4'")
        )
    with pytest.raises(Exception, match=r"(?i)check"), app.engine.begin() as conn:
        conn.execute(text("UPDATE claims SET state = 'approved' WHERE account_id = 'A-cn-4'"))
    app.close()


def test_a_serial_register_with_a_bad_row_stores_nothing(app: App, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    rows = "S31,mi-1,2011-10-05,,CN,\nS32,mi-1,2011-10-05T10:00:00Z,,cn,\n"
    bad.write_text(SERIALS.replace("S20", "S30") + rows, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_serials(app.uow, read_serials(bad))
    assert "row 2" in str(caught.value.errors[0]) and "row 3" in str(caught.value.errors[1])  # type: ignore[attr-defined]
    changed = tmp_path / "changed.csv"
    changed.write_text(SERIALS.replace(",CN,", ",HK,"), encoding="utf-8")
    with pytest.raises(InputError, match="serial S20 is already registered with another region"):
        import_serials(app.uow, read_serials(changed))
    assert import_serials(app.uow, read_serials(changed), update=True) == SerialImport(
        imported=1, unchanged=0
    )
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM serials")).scalar_one() == 1
    app.close()
