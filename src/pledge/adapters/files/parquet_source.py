"""A Parquet file as Arrow record batches of the spec's columns, in the spec's order.

Each column's type is checked once for the whole file: text, or a type that holds the
field without loss (a zoned timestamp, a decimal, an integer id).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pledge.adapters.files.row_specs import INSTANT_KINDS, RowSpec, spec_for_file
from pledge.domain.errors import InputError
from pledge.domain.validation import check_columns


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, pre_buffer=False)  # pre-buffering keeps every row group read
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path.name}: not a readable Parquet file ({exc})", code="invalid_file") from None


def parquet_spec(path: Path, spec: RowSpec) -> RowSpec:
    names = _parquet_file(path).schema_arrow.names
    check_columns(names, spec.columns, path.name)
    return spec_for_file(spec, names)


def parquet_batches(path: Path, spec: RowSpec, batch_rows: int) -> Iterator[pa.RecordBatch]:
    parquet = _parquet_file(path)
    schema = parquet.schema_arrow
    positions = check_columns(schema.names, spec.columns, path.name)
    for position, name, kind in zip(positions, spec.columns, spec.kinds, strict=True):
        _check_type(path.name, name, kind, schema.field(position).type)
    wanted = [schema.names[i] for i in positions]
    try:
        yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path.name}: cannot read the Parquet file ({exc})", code="invalid_file") from None


def _is_text(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        return _is_text(type_.value_type)
    return type_ in (pa.string(), pa.large_string(), pa.string_view(), pa.null())


def _check_type(source: str, name: str, kind: str, type_: pa.DataType) -> None:
    """Refuse a Parquet column whose type cannot hold the field, once for the whole file."""
    if _is_text(type_):
        return
    if kind in INSTANT_KINDS:
        if pa.types.is_timestamp(type_) and type_.tz is not None:
            return
        reason = "a timestamp without time zone" if pa.types.is_timestamp(type_) else str(type_)
        hint = "store instants as timestamp with time zone (UTC) or ISO 8601 text with an offset"
    elif kind == "price":
        if pa.types.is_decimal(type_):
            return
        reason = f"{type_} (a float)" if pa.types.is_floating(type_) else str(type_)
        hint = (
            'money never passes through a float or a bare number: store it as decimal or text like "1999.00"'
        )
    else:
        if pa.types.is_integer(type_):
            return  # numeric ids: their decimal form is the id
        reason, hint = str(type_), "store it as text"
    raise InputError(f"{source}, column {name}: is {reason}; {hint}", code="invalid_column", param=name)
