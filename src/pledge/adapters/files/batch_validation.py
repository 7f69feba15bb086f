"""Validation of one batch: Arrow kernels accept the plainly fine rows column by column.

The plain forms (ASCII ids, ``2011-12-07T23:59:59+08:00``, ``"1999.00"``) are checked
for a whole column at once; any row that is not plainly fine goes through
:mod:`pledge.domain.validation` one by one, which has the final word and writes the
message. So both paths accept exactly the same rows and produce the same records.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterator
from itertools import repeat
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pledge.adapters.files.contacts import CONTACT_DEFAULTS, CONTACT_KINDS, contact_values
from pledge.adapters.files.row_specs import INSTANT_KINDS, RowSpec, no_value
from pledge.domain.errors import InputError
from pledge.domain.money import CURRENCY_EXPONENTS
from pledge.domain.records import PURCHASE_STATUSES
from pledge.domain.row_values import ISO_3166_ALPHA2, MAX_ID_LENGTH, price_minor
from pledge.domain.validation import duplicate_error

_Array = Any  # pyarrow arrays; the stubs' generics add nothing here

# Instants the fast path takes; anything else (fractions, other separators) is left to the
# row validator. Years from 1000 and real month/day digits keep Arrow's parser from
# accepting what Python's would refuse (year 0, month 13).
_PLAIN_INSTANT = (
    r"^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_UTC_US = pa.timestamp("us", tz="UTC")
_ENUMS = {
    "status": pa.array(PURCHASE_STATUSES),
    "currency": pa.array(sorted(CURRENCY_EXPONENTS)),
    "region": pa.array(sorted(ISO_3166_ALPHA2)),
}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector while a batch's tuples are built: records (str and int) form no
    cycles, yet their allocations trigger collections costing a third of the read time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _text(column: _Array) -> _Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column if column.type == pa.string() else column.cast(pa.string())


def _plain_text(column: _Array, *, optional: bool) -> tuple[list[Any], _Array]:
    """Values and a mask of rows that are plainly fine: printable ASCII, 1..128 characters once trimmed."""
    text = _text(column)
    if optional:
        text = text.fill_null("")
    trimmed = pc.ascii_trim_whitespace(text)
    length = pc.utf8_length(trimmed)
    ok = pc.and_(pc.string_is_ascii(text), pc.less_equal(length, pa.scalar(MAX_ID_LENGTH)))
    printable = pc.ascii_is_printable(trimmed)
    ok = pc.and_(
        ok,
        pc.or_(pc.equal(length, pa.scalar(0)), printable)
        if optional
        else pc.and_(printable, pc.greater(length, pa.scalar(0))),
    )
    return trimmed.to_pylist(), ok


def _instants(column: _Array) -> tuple[list[Any], _Array]:
    if pa.types.is_timestamp(column.type):
        # A zoned timestamp stores UTC ticks in its unit; scale them to microseconds.
        ticks = column.cast(pa.int64())
        if column.type.unit in ("s", "ms"):
            ticks = pc.multiply_checked(ticks, 1_000_000 if column.type.unit == "s" else 1_000)
        values = ticks.to_pylist()
        if column.type.unit == "ns":
            values = [None if tick is None else tick // 1_000 for tick in values]
        return values, ticks.is_valid()
    text = _text(column)
    ok: _Array = pc.match_substring_regex(text, _PLAIN_INSTANT)
    ok = ok.fill_null(False)
    try:
        instants = pc.if_else(ok, text, "1970-01-01T00:00:00Z").cast(_UTC_US).cast(pa.int64())
    except pa.ArrowInvalid:  # a plain-looking but impossible date (02-30): every row goes the slow way
        return [None] * len(text), pa.nulls(len(text), pa.bool_()).fill_null(False)
    return instants.to_pylist(), ok


def _optional_instants(column: _Array) -> tuple[list[Any], _Array]:
    """As :func:`_instants`, with an empty or null value plainly fine (None)."""
    values, ok = _instants(column)
    if pa.types.is_timestamp(column.type):
        return values, pa.array([True] * len(values), pa.bool_())
    empty = pc.equal(pc.ascii_trim_whitespace(_text(column).fill_null("")), pa.scalar(""))
    return [None if blank else value for value, blank in zip(values, empty.to_pylist(), strict=True)], pc.or_(
        ok, empty
    )


def _prices(price: _Array, currency: _Array) -> tuple[list[Any], _Array]:
    """Minor units, validating each distinct (price, currency) pair of the batch once."""
    prices = price if pa.types.is_decimal(price.type) else _text(price)
    price_codes, currency_codes = prices.dictionary_encode(), _text(currency).dictionary_encode()
    price_values, currency_values = price_codes.dictionary.to_pylist(), currency_codes.dictionary.to_pylist()
    width = max(1, len(currency_values))
    pairs = pc.add(
        pc.multiply(price_codes.indices.cast(pa.int64()), width), currency_codes.indices.cast(pa.int64())
    )
    distinct = pc.unique(pairs).drop_null()
    minors: list[int | None] = []
    for pair in distinct.to_pylist():
        try:
            minors.append(price_minor(price_values[pair // width], currency_values[pair % width]))
        except InputError:
            minors.append(None)  # the row validator will say why
    result = pc.take(pa.array(minors, pa.int64()), pc.index_in(pairs, value_set=distinct))
    return result.to_pylist(), result.is_valid()


def validate_batch(
    batch: pa.RecordBatch, first_row: int, spec: RowSpec, source: str, room: int, *, dedupe: bool = True
) -> tuple[list[Any], list[InputError]]:
    """Records of a batch (in row order, identical duplicates dropped) and up to ``room`` errors."""
    with _gc_paused():
        return _validate_columns(batch, first_row, spec, source, room, dedupe=dedupe)


def _validate_columns(
    batch: pa.RecordBatch, first_row: int, spec: RowSpec, source: str, room: int, *, dedupe: bool
) -> tuple[list[Any], list[InputError]]:
    columns = batch.columns
    values: list[list[Any]] = []
    masks: list[_Array] = []
    ok: _Array
    for position, kind in enumerate(spec.kinds):
        column = columns[position]
        if kind in ("id", "optional"):
            column_values, ok = _plain_text(column, optional=kind == "optional")
        elif kind == "instant":
            column_values, ok = _instants(column)
        elif kind == "optional_instant":
            column_values, ok = _optional_instants(column)
        elif kind == "price":
            column_values, ok = _prices(column, columns[spec.kinds.index("currency")])
        elif kind in CONTACT_KINDS:
            column_values, ok = contact_values(kind, _text(column))
        else:
            text = _text(column)
            column_values, ok = text.to_pylist(), pc.is_in(text, value_set=_ENUMS[kind])
        values.append(column_values)
        masks.append(ok.fill_null(False))
    ok_all = functools.reduce(pc.and_, masks)
    new = tuple.__new__
    full = spec.full(values, lambda name: repeat(CONTACT_DEFAULTS[name], len(batch)))
    records: list[Any] = [new(spec.record, row) for row in zip(*full, strict=True)]
    errors: list[InputError] = []
    if not pc.all(ok_all).as_py():
        failed = []
        instants = [i for i, kind in enumerate(spec.kinds) if kind in INSTANT_KINDS]
        for index in pc.indices_nonzero(pc.invert(ok_all)).to_pylist():
            raw = [column[index].as_py() for column in columns]
            for instant in instants:
                if pa.types.is_timestamp(columns[instant].type):
                    raw[instant] = values[instant][index]  # UTC microseconds, whatever the stored unit
            try:
                records[index] = spec.build(
                    spec.full(raw, no_value), first_row + index, source, epoch_us=True
                )
            except InputError as exc:
                failed.append(index)
                if len(errors) < room:
                    errors.append(exc)
        if failed:
            return [], errors
    return _dedupe(records, first_row, spec, source, room) if dedupe else (records, [])


def _dedupe(
    records: list[Any], first_row: int, spec: RowSpec, source: str, room: int
) -> tuple[list[Any], list[InputError]]:
    ids = [record[0] for record in records]
    if len(set(ids)) == len(ids):
        return records, []
    kept: dict[str, int] = {}
    unique: list[Any] = []
    errors: list[InputError] = []
    for index, record in enumerate(records):
        first = kept.setdefault(record[0], index)
        if first == index:
            unique.append(record)
        elif records[first] != record and len(errors) < room:
            errors.append(
                duplicate_error(source, (first_row + first, records[first]), (first_row + index, record))
            )
    return unique, errors
