"""The serial register: the maker's own record of each device sold and activated.

A row is ``serial, sku, sold_at, channel, region, activated_at`` (CONTRACT.md,
"Additions"); ``activated_at`` is empty for a device never switched on and
``channel`` may be empty. Claims read it as evidence of when and where a device
was sold (:mod:`pledge.domain.claims`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from pledge.domain.row_values import FieldError, checked_instant, checked_region, checked_text, raw_id
from pledge.domain.validation import row_error

SERIAL_COLUMNS: Final = ("serial", "sku", "sold_at", "channel", "region", "activated_at")


class SerialRecord(NamedTuple):
    serial: str
    sku: str
    sold_at_us: int
    channel: str  # "" when unknown
    region: str  # ISO 3166-1 alpha-2 where the device was sold
    activated_at_us: int | None  # None: never activated


def serial_from_fields(
    fields: Sequence[object], row_number: int, source: str = "serials", *, epoch_us: bool = False
) -> SerialRecord:
    """Validate one register row given its values in ``SERIAL_COLUMNS`` order."""
    serial, sku, sold_at, channel, region, activated_at = fields
    try:
        empty = activated_at is None or (isinstance(activated_at, str) and not activated_at.strip())
        return SerialRecord(
            checked_text(serial, "serial"),
            checked_text(sku, "sku"),
            checked_instant(sold_at, "sold_at", epoch_us=epoch_us),
            checked_text(channel, "channel", required=False),
            checked_region(region),
            None if empty else checked_instant(activated_at, "activated_at", epoch_us=epoch_us),
        )
    except FieldError as bad:
        raise row_error(
            source, row_number, bad.field, bad.text, id_field="serial", row_id=raw_id(serial)
        ) from None
