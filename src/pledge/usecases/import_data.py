"""Import accounts or purchases: streamed in batches, all or nothing, idempotent.

An update (``update=True``) that changes a row re-checks the live grants it carries, in the same
transaction: a purchase that no longer qualifies loses its unopened grant or opens a claw-back case
for an opened one (ADR 14, :mod:`pledge.usecases.corrections`). An account given another region
keeps the change (old region, new region, the import's instant): claims read it (ADR 28).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pledge.domain.errors import InvariantViolation
from pledge.domain.records import AccountRecord, PurchaseRecord, RegionChange
from pledge.usecases.corrections import GrantCorrections
from pledge.usecases.ports import Clock, RuleCompiler, UnitOfWork, UnitOfWorkFactory

IMPORT_ACTOR = "import"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one import did: rows added or changed, rows already there, and the grants it corrected."""

    imported: int  # new and updated rows, as before ``updated`` was reported
    unchanged: int
    updated: int
    revoked: int  # unopened grants whose purchase no longer qualifies (only with ``update``)
    clawbacks: int  # opened ones: claw-back cases opened instead


class Corrector:
    """What an update needs to re-check grants: the rule compiler, the clock and who imports."""

    def __init__(self, rules: RuleCompiler, clock: Clock, actor: str = IMPORT_ACTOR) -> None:
        self.rules, self.clock, self.actor = rules, clock, actor


def import_accounts(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[AccountRecord]],
    *,
    update: bool = False,
    progress: Callable[[int], None] | None = None,
    expected_rows: int | None = None,
    corrector: Corrector | None = None,
) -> ImportResult:
    return _import(uow_factory, batches, "accounts", update, progress, expected_rows, corrector)


def import_purchases(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[PurchaseRecord]],
    *,
    update: bool = False,
    progress: Callable[[int], None] | None = None,
    expected_rows: int | None = None,
    corrector: Corrector | None = None,
) -> ImportResult:
    """``expected_rows`` (e.g. counted from the file) lets the store treat a large import as a bulk load."""
    return _import(uow_factory, batches, "purchases", update, progress, expected_rows, corrector)


def _keep_moves(uow: UnitOfWork, now_us: int) -> None:
    """The batch's region changes, at the import's instant (``--now`` when given, like its
    corrections): a claim compares it with the campaign's launch."""
    moves = uow.purchases.moved()
    if moves:
        uow.purchases.record_region_changes([RegionChange(a, old, new, now_us) for a, old, new in moves])


def _import(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[Any]],
    what: str,
    update: bool,
    progress: Callable[[int], None] | None,
    expected_rows: int | None,
    corrector: Corrector | None,
) -> ImportResult:
    if update and corrector is None:  # a changed row must never leave a grant it no longer earns
        raise InvariantViolation(f"an update of {what} needs a corrector to re-check the grants it touches")
    imported = unchanged = updated = 0
    # One transaction for the whole file: a bad row anywhere (raised by the
    # reader or the store) rolls back every batch before it, corrections included.
    with uow_factory() as uow:
        add = uow.purchases.add_accounts if what == "accounts" else uow.purchases.add_purchases
        now = corrector.clock.now_us() if corrector else 0
        corrections = GrantCorrections(uow, corrector.rules, now) if corrector and update else None
        uow.purchases.begin_load(what, expected_rows)
        for batch in batches:
            new, same = add(batch, update=update)
            imported += new
            unchanged += same
            changed = uow.purchases.changed()
            updated += len(changed)
            if corrections is not None:
                corrections.correct(what, changed)
            if changed and what == "accounts":
                _keep_moves(uow, now)
            if progress:
                progress(len(batch))
        uow.purchases.finish_load(what)
        if corrections is not None and corrector is not None:
            corrections.record(corrector.actor)
        uow.commit()
    return ImportResult(
        imported,
        unchanged,
        updated,
        corrections.revoked if corrections else 0,
        corrections.clawbacks if corrections else 0,
    )
