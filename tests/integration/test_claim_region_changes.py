"""Region changes on SQLite and PostgreSQL (ADR 28): an ``--update`` import of accounts keeps each
change of region with the import's instant, in the import's transaction, and a claim by an account
moved after its campaign was launched carries the ``region_changed`` flag."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import text

from pledge.adapters.evidence.local import LocalEvidenceStore
from pledge.adapters.evidence.processing import ImageEvidenceProcessor
from pledge.adapters.files.readers import read_accounts, read_purchases, read_serials
from pledge.adapters.sqlalchemy.schema import upgrade
from pledge.bootstrap import App
from pledge.domain.claims import Claim, ClaimState
from pledge.domain.errors import InputError
from pledge.domain.records import AccountRecord
from pledge.domain.timeutil import US_PER_SECOND, parse_instant
from pledge.usecases.campaigns import apply_campaign, approve_campaign, launch_campaign
from pledge.usecases.claims import ClaimDesk, ClaimRequest
from pledge.usecases.import_data import Corrector, ImportResult, import_accounts, import_purchases
from pledge.usecases.serials import import_serials
from tests.support.data import campaign, write_files
from tests.support.images import receipt

LAUNCH = parse_instant("2021-08-10T12:00:00+08:00")
HOUR = 3600 * US_PER_SECOND
CID = "founders-refund"
SERIALS = "serial,sku,sold_at,channel,region,activated_at\n" + "".join(
    f"S{n},mi-1,2011-10-05T10:00:00+08:00,,CN,\n" for n in (20, 21, 22)
)


def at(app: App, instant_us: int) -> App:
    """The same database with business time ``instant_us`` (as ``--now`` gives a command)."""
    app.close()
    return App(app.url, instant_us)


def update(app: App, accounts: Path, moves: dict[str, str]) -> ImportResult:
    """``pledge import accounts --update``: the file with these accounts' regions replaced."""
    lines = accounts.read_text(encoding="utf-8").splitlines()
    for account, region in moves.items():
        lines = [f"{account},{region},{line.split(',', 2)[2]}" if line.startswith(f"{account},") else line
                 for line in lines]  # fmt: skip
    changed = accounts.with_name("changed.csv")
    changed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corrector = Corrector(app.rules, app.clock, "ops")
    return import_accounts(app.uow, read_accounts(changed), update=True, corrector=corrector)


def claim(app: App, folder: Path, account: str, serial: str) -> Claim:
    desk = ClaimDesk(
        app.uow, app.rules, app.clock, ImageEvidenceProcessor(), LocalEvidenceStore(folder / "ev")
    )
    photo = receipt(account, size=(120 + 60 * int(serial[1:]) % 240, 200))
    request = ClaimRequest(CID, account, serial, "2011-10-05T10:00:00+08:00", "999.00", [("r.jpg", photo)])
    return desk.submit(request, "cs.liu")


def region_flags(claim: Claim) -> list[str]:
    return [f.detail for f in claim.flags if f.name == "region_changed"]


def test_a_move_after_the_launch_is_flagged_and_moves_before_it_or_none_are_not(
    db_url: str, tmp_path: Path
) -> None:
    app = App(db_url, LAUNCH - 2 * HOUR)
    upgrade(app.engine)
    accounts, purchases = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    import_purchases(app.uow, read_purchases(purchases))
    (tmp_path / "serials.csv").write_text(SERIALS, encoding="utf-8")
    import_serials(app.uow, read_serials(tmp_path / "serials.csv"))
    # Before the announcement, Taiwan's account moves to the mainland: upkeep, not a reason to look.
    assert update(app, accounts, {"A-tw-1": "CN"}).updated == 1
    app = at(app, LAUNCH)
    apply_campaign(app.uow, app.rules, app.clock, campaign(claims={"open_until": "2022-06-30"}), "ops")
    approve_campaign(app.uow, app.rules, app.clock, CID, "finance")
    launch_campaign(app.uow, app.rules, app.clock, CID, "finance")
    # After it, Hong Kong's account moves into the region the campaign pays (microseconds and all).
    app = at(app, LAUNCH + HOUR + 250_001)
    assert update(app, accounts, {"A-tw-1": "CN", "A-hk-1": "CN"}).updated == 1
    with app.engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT account_id, old_region, new_region, changed_at_us FROM account_region_changes "
                "ORDER BY change_id"
            )
        ).all()
    assert [tuple(r) for r in stored] == [
        ("A-tw-1", "TW", "CN", LAUNCH - 2 * HOUR),
        ("A-hk-1", "HK", "CN", LAUNCH + HOUR + 250_001),
    ]
    app = at(app, LAUNCH + 3 * HOUR)
    hk = claim(app, tmp_path, "A-hk-1", "S20")
    assert hk.state is ClaimState.PENDING, hk  # every check passed; the flag sends it to a person
    assert region_flags(hk) == [
        "account A-hk-1 moved from HK to CN on 2021-08-10T13:00:00+08:00, after the campaign was "
        "launched on 2021-08-10T12:00:00+08:00"
    ]
    assert region_flags(claim(app, tmp_path, "A-tw-1", "S21")) == []  # moved before the launch
    assert region_flags(claim(app, tmp_path, "A-cn-3", "S22")) == []  # never moved
    app.close()


def test_an_update_that_fails_keeps_no_region_change(db_url: str, tmp_path: Path) -> None:
    app = App(db_url, LAUNCH)
    upgrade(app.engine)
    accounts, _ = write_files(tmp_path)
    import_accounts(app.uow, read_accounts(accounts))
    moved = tmp_path / "moved.csv"
    moved.write_text(accounts.read_text(encoding="utf-8").replace("A-hk-1,HK", "A-hk-1,CN"), encoding="utf-8")

    def batches() -> Iterator[Sequence[AccountRecord]]:
        yield from read_accounts(moved)  # stored, its move recorded …
        raise InputError("accounts: row 9, region: 'china' is not a region", param="region")  # … then not

    with pytest.raises(InputError, match="china"):
        import_accounts(app.uow, batches(), update=True, corrector=Corrector(app.rules, app.clock))
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM account_region_changes")).scalar_one() == 0
        hk = conn.execute(text("SELECT region FROM accounts WHERE account_id = 'A-hk-1'")).scalar_one()
    assert hk == "HK"
    assert (
        import_accounts(
            app.uow, read_accounts(moved), update=True, corrector=Corrector(app.rules, app.clock)
        ).updated
        == 1
    )
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM account_region_changes")).scalar_one() == 1
    app.close()
