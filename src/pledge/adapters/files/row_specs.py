"""What a row of each imported file holds: its columns, how each is checked, the record it becomes.

:func:`spec_for_file` fits a spec to one file: which of the optional columns that file has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pledge.adapters.files.contacts import CONTACT_KINDS
from pledge.domain.contacts import CONTACT_COLUMNS
from pledge.domain.records import ACCOUNT_COLUMNS, PURCHASE_COLUMNS, AccountRecord, PurchaseRecord
from pledge.domain.serials import SERIAL_COLUMNS, SerialRecord, serial_from_fields
from pledge.domain.validation import account_from_fields, purchase_from_fields


class RowSpec(NamedTuple):
    columns: tuple[str, ...]  # read from the file, in this order: the required ones, then optional ones
    kinds: tuple[str, ...]
    build: Callable[..., Any]  # account_from_fields / purchase_from_fields / serial_from_fields
    record: type[AccountRecord] | type[PurchaseRecord] | type[SerialRecord]
    optional: tuple[str, ...] = ()  # columns a file may leave out (the record's last fields)
    missing: frozenset[str] = frozenset()  # optional columns this file does not have

    def full(self, row: list[Any], fill: Callable[[str], Any]) -> list[Any]:
        """``row`` (one value per column read) with ``fill(name)`` in the place of each missing one."""
        if not self.optional:
            return row
        given = iter(row[len(self.columns) - len(self.optional) + len(self.missing) :])
        head = row[: len(self.columns) - len(self.optional) + len(self.missing)]
        return [*head, *(fill(name) if name in self.missing else next(given) for name in self.optional)]


def spec_for_file(spec: RowSpec, names: list[str]) -> RowSpec:
    """The spec for one file: its optional columns that are there are read, the others filled in."""
    if not spec.optional:
        return spec
    present = {str(name).strip().lower() for name in names}
    chosen = [i for i, name in enumerate(spec.optional) if name in present]
    return spec._replace(
        columns=spec.columns + tuple(spec.optional[i] for i in chosen),
        kinds=spec.kinds + tuple(CONTACT_KINDS[i] for i in chosen),
        missing=frozenset(name for name in spec.optional if name not in present),
    )


PURCHASE_SPEC = RowSpec(
    PURCHASE_COLUMNS,
    ("id", "id", "id", "optional", "instant", "price", "currency", "status", "optional"),
    purchase_from_fields,
    PurchaseRecord,
)
ACCOUNT_SPEC = RowSpec(
    ACCOUNT_COLUMNS,
    ("id", "region", "instant"),
    account_from_fields,
    AccountRecord,
    CONTACT_COLUMNS,
    frozenset(CONTACT_COLUMNS),
)
SERIAL_SPEC = RowSpec(
    SERIAL_COLUMNS,
    ("id", "id", "instant", "optional", "region", "optional_instant"),
    serial_from_fields,
    SerialRecord,
)

INSTANT_KINDS = ("instant", "optional_instant")


def no_value(name: str) -> None:
    """What the row validator gets for an optional column the file does not have."""
