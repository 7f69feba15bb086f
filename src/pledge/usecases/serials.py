"""``import serials``: the maker's serial register, streamed in batches, all or nothing, idempotent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pledge.domain.errors import InputError
from pledge.domain.serials import SerialRecord
from pledge.usecases.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SerialImport:
    """Serials an import stored (new, or replaced with ``--update``) and those it found as they were."""

    imported: int
    unchanged: int


def changed_serial_error(old: SerialRecord, new: SerialRecord) -> InputError:
    """A serial stored with other content: refused unless the import says ``--update``."""
    fields = [name for name, a, b in zip(SerialRecord._fields, old, new, strict=True) if a != b]
    return InputError(
        f"serials: serial {new.serial} is already registered with another {', '.join(fields)}; "
        "pass --update to replace it",
        code="changed_row",
        param=f"serial {new.serial}",
    )


def import_serials(
    uow_factory: UnitOfWorkFactory,
    batches: Iterable[Sequence[SerialRecord]],
    *,
    update: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SerialImport:
    imported = unchanged = 0
    with uow_factory() as uow:  # one transaction: a bad row anywhere stores nothing
        for batch in batches:
            new, same = uow.serials.add(batch, update=update)
            imported += new
            unchanged += same
            if progress:
                progress(len(batch))
        uow.commit()
    return SerialImport(imported, unchanged)
