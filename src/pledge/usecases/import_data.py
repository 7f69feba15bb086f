"""Import accounts or purchases: streamed in batches, all or nothing, idempotent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.usecases.ports import UnitOfWorkFactory


def import_accounts(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[AccountRecord]],
    *,
    update: bool = False,
    progress: Callable[[int], None] | None = None,
    expected_rows: int | None = None,
) -> dict[str, Any]:
    return _import(uow_factory, batches, "accounts", update, progress, expected_rows)


def import_purchases(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[PurchaseRecord]],
    *,
    update: bool = False,
    progress: Callable[[int], None] | None = None,
    expected_rows: int | None = None,
) -> dict[str, Any]:
    """``expected_rows`` (e.g. counted from the file) lets the store treat a large import as a bulk load."""
    return _import(uow_factory, batches, "purchases", update, progress, expected_rows)


def _import(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[Any]],
    what: str,
    update: bool,
    progress: Callable[[int], None] | None,
    expected_rows: int | None,
) -> dict[str, Any]:
    imported = unchanged = 0
    # One transaction for the whole file: a bad row anywhere (raised by the
    # reader or the store) rolls back every batch before it.
    with uow_factory() as uow:
        add = uow.purchases.add_accounts if what == "accounts" else uow.purchases.add_purchases
        uow.purchases.begin_load(what, expected_rows)
        for batch in batches:
            new, same = add(batch, update=update)
            imported += new
            unchanged += same
            if progress:
                progress(len(batch))
        uow.purchases.finish_load(what)
        uow.commit()
    return {"imported": imported, "unchanged": unchanged}
