"""Streaming readers for accounts, purchases and serials files, CSV or Parquet (chosen by extension).

Files are read in batches of at most ``batch_rows`` rows and never loaded whole.
Each batch is checked column by column with Arrow kernels for the common, plain
forms, and any row that is not plainly fine one by one
(:mod:`pledge.adapters.files.batch_validation`), so both paths accept exactly the
same rows and produce the same records.

A bad file is refused whole. Errors are collected, up to ``MAX_ERRORS``, and
raised as one :class:`~pledge.domain.validation.BadRowsError` at the end, so a
user fixes a file in one go; once a row is bad no further batch is yielded.
The error is raised only when iteration ends, so a caller must consume the
whole iterator before committing anything (the import is all or nothing).

Duplicate ids: an identical copy within a batch is dropped; a copy with
different content anywhere in the file is an error naming both rows. Identical
copies in different batches are both yielded (re-importing the same content is
a no-op downstream); detecting them costs 8 bytes per row, and a second pass
over the file only when two batches share an id.

Row numbers are 1-based data rows: the header is not counted, nor are blank
lines.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pledge.adapters.files.batch_validation import validate_batch
from pledge.adapters.files.csv_source import CsvStructureError, csv_batches, csv_errors, csv_spec
from pledge.adapters.files.parquet_source import parquet_batches, parquet_spec
from pledge.adapters.files.row_specs import ACCOUNT_SPEC, PURCHASE_SPEC, SERIAL_SPEC, RowSpec
from pledge.domain.errors import InputError
from pledge.domain.records import AccountRecord, PurchaseRecord
from pledge.domain.serials import SerialRecord
from pledge.domain.validation import MAX_ERRORS, BadRowsError, duplicate_error

Progress = Callable[[int], None]


def read_accounts(
    path: Path | str, batch_rows: int = 50_000, *, progress: Progress | None = None
) -> Iterator[list[AccountRecord]]:
    """Validated accounts in batches; ``progress`` gets the number of rows read so far."""
    return _read(Path(path), ACCOUNT_SPEC, batch_rows, progress)


def read_purchases(
    path: Path | str, batch_rows: int = 50_000, *, progress: Progress | None = None
) -> Iterator[list[PurchaseRecord]]:
    """Validated purchases in batches; ``progress`` gets the number of rows read so far."""
    return _read(Path(path), PURCHASE_SPEC, batch_rows, progress)


def read_serials(
    path: Path | str, batch_rows: int = 50_000, *, progress: Progress | None = None
) -> Iterator[list[SerialRecord]]:
    """Validated serial register rows in batches; ``progress`` gets the number of rows read so far."""
    return _read(Path(path), SERIAL_SPEC, batch_rows, progress)


def count_rows(path: Path | str) -> int | None:
    """Rows in the file for a progress bar: exact for Parquet, estimated from the size for CSV."""
    path = Path(path)
    try:
        if _kind(path) == "parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(1 << 20)
    except (InputError, OSError, pa.ArrowException):
        return None
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") or not sample else 1)
    if len(sample) >= size:
        return max(0, lines - 1)
    return max(0, round(size * lines / len(sample)) - 1)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .csv or .parquet",
            code="unsupported_file",
            param=str(path),
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file", code="file_not_found", param=str(path))
    return suffix[1:]


_first = operator.itemgetter(0)


def _file_spec(path: Path, spec: RowSpec) -> RowSpec:
    """``spec`` for this file's header: which optional columns it has (refuses a bad header)."""
    return csv_spec(path, spec) if _kind(path) == "csv" else parquet_spec(path, spec)


def _batches(path: Path, spec: RowSpec, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if _kind(path) == "csv":
        return csv_batches(path, spec, batch_rows)
    return parquet_batches(path, spec, batch_rows)


def _read(path: Path, spec: RowSpec, batch_rows: int, progress: Progress | None) -> Iterator[list[Any]]:
    if batch_rows < 1:
        raise InputError("batch_rows must be >= 1", param="batch_rows")
    _kind(path)  # refuse a bad name before the caller starts iterating
    return _iterate(path, spec, batch_rows, progress)


def _iterate(path: Path, spec: RowSpec, batch_rows: int, progress: Progress | None) -> Iterator[list[Any]]:
    source = path.name
    errors: list[InputError] = []
    hashes = array("q")  # hash of every id yielded, to find ids shared by two batches at the end
    highest = ""  # while each batch's ids all sort after the previous ones, no two batches share one
    ordered = True
    rows = 0
    try:
        spec = _file_spec(path, spec)
        for batch in _batches(path, spec, batch_rows):
            records, found = validate_batch(batch, rows + 1, spec, source, MAX_ERRORS - len(errors))
            rows += batch.num_rows
            errors.extend(found)
            if len(errors) >= MAX_ERRORS:
                raise BadRowsError(errors[:MAX_ERRORS], truncated=True)
            if progress is not None:
                progress(rows)
            if not errors and records:
                ids = list(map(_first, records))
                hashes.extend(map(hash, ids))
                ordered = ordered and min(ids) > highest
                top = max(ids)
                highest = top if top > highest else highest
                yield records
    except CsvStructureError:
        errors = csv_errors(path, spec)
        if not errors:
            raise InputError(f"{source}: not a valid UTF-8 CSV file", code="invalid_file") from None
    if not errors and not ordered:
        errors = _shared_ids(path, spec, batch_rows, hashes)
    if errors:
        raise BadRowsError(errors[:MAX_ERRORS], truncated=len(errors) >= MAX_ERRORS)


def _shared_ids(path: Path, spec: RowSpec, batch_rows: int, hashes: array[int]) -> list[InputError]:
    """Errors for ids that two batches share with different content (a second pass, only if any)."""
    # Sorting is several times faster and leaner than Arrow's hash-based unique/count_distinct here.
    ordered = pa.Array.from_buffers(pa.int64(), len(hashes), [None, pa.py_buffer(hashes)]).sort()
    same = pc.equal(ordered.slice(1), ordered.slice(0, max(len(ordered) - 1, 0)))
    shared = set(ordered.slice(1).filter(same).to_pylist())
    if not shared:
        return []
    seen: dict[str, tuple[int, Any]] = {}
    errors: list[InputError] = []
    rows = 0
    for batch in _batches(path, spec, batch_rows):
        records, _ = validate_batch(batch, rows + 1, spec, path.name, 0, dedupe=False)
        for index, record in enumerate(records):
            if hash(record[0]) in shared:
                first = seen.setdefault(record[0], (rows + 1 + index, record))
                if first[1] != record and len(errors) < MAX_ERRORS:
                    errors.append(duplicate_error(path.name, first, (rows + 1 + index, record)))
        rows += batch.num_rows
    return errors
