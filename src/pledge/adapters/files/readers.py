"""Streaming readers for accounts, purchases and serials files, CSV or Parquet (chosen by extension).

Files are read in batches of at most ``batch_rows`` rows and never loaded whole.
Each batch is checked column by column with Arrow kernels for the common, plain
forms (ASCII ids, ``2011-12-07T23:59:59+08:00``, ``"1999.00"``); any row that is
not plainly fine goes through :mod:`pledge.domain.validation` one by one, which
has the final word and writes the message. So both paths accept exactly the
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

import contextlib
import csv
import functools
import gc
import operator
from array import array
from collections.abc import Callable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pledge.adapters.files.contacts import CONTACT_DEFAULTS, CONTACT_KINDS, contact_values
from pledge.domain.contacts import CONTACT_COLUMNS
from pledge.domain.errors import InputError
from pledge.domain.money import CURRENCY_EXPONENTS
from pledge.domain.records import (
    ACCOUNT_COLUMNS,
    PURCHASE_COLUMNS,
    PURCHASE_STATUSES,
    AccountRecord,
    PurchaseRecord,
)
from pledge.domain.serials import SERIAL_COLUMNS, SerialRecord, serial_from_fields
from pledge.domain.validation import (
    ISO_3166_ALPHA2,
    MAX_ERRORS,
    MAX_ID_LENGTH,
    BadRowsError,
    account_from_fields,
    check_columns,
    duplicate_error,
    price_minor,
    purchase_from_fields,
)

Progress = Callable[[int], None]
_Array = Any  # pyarrow arrays; the stubs' generics add nothing here

# Instants the fast path takes; anything else (fractions, other separators) is left to the
# row validator. Years from 1000 and real month/day digits keep Arrow's parser from
# accepting what Python's would refuse (year 0, month 13).
_PLAIN_INSTANT = (
    r"^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_UTC_US = pa.timestamp("us", tz="UTC")

# No row of an accounts or purchases file comes near these; a file that does is refused
# before its line is held in memory whole (a 5 GB file with no newline is one "line").
MAX_CSV_LINE_BYTES = 1 << 20  # also the Arrow reader's block size: a longer row cannot straddle two
MAX_CSV_COLUMNS = 256


class _Spec(NamedTuple):
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


def _for_file(spec: _Spec, names: list[str]) -> _Spec:
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


_PURCHASES = _Spec(
    PURCHASE_COLUMNS,
    ("id", "id", "id", "optional", "instant", "price", "currency", "status", "optional"),
    purchase_from_fields,
    PurchaseRecord,
)
_ACCOUNTS = _Spec(
    ACCOUNT_COLUMNS,
    ("id", "region", "instant"),
    account_from_fields,
    AccountRecord,
    CONTACT_COLUMNS,
    frozenset(CONTACT_COLUMNS),
)
_SERIALS = _Spec(
    SERIAL_COLUMNS,
    ("id", "id", "instant", "optional", "region", "optional_instant"),
    serial_from_fields,
    SerialRecord,
)
_INSTANT_KINDS = ("instant", "optional_instant")
_ENUMS = {
    "status": pa.array(PURCHASE_STATUSES),
    "currency": pa.array(sorted(CURRENCY_EXPONENTS)),
    "region": pa.array(sorted(ISO_3166_ALPHA2)),
}


def read_accounts(
    path: Path | str, batch_rows: int = 50_000, *, progress: Progress | None = None
) -> Iterator[list[AccountRecord]]:
    """Validated accounts in batches; ``progress`` gets the number of rows read so far."""
    return _read(Path(path), _ACCOUNTS, batch_rows, progress)


def read_purchases(
    path: Path | str, batch_rows: int = 50_000, *, progress: Progress | None = None
) -> Iterator[list[PurchaseRecord]]:
    """Validated purchases in batches; ``progress`` gets the number of rows read so far."""
    return _read(Path(path), _PURCHASES, batch_rows, progress)


def read_serials(
    path: Path | str, batch_rows: int = 50_000, *, progress: Progress | None = None
) -> Iterator[list[SerialRecord]]:
    """Validated serial register rows in batches; ``progress`` gets the number of rows read so far."""
    return _read(Path(path), _SERIALS, batch_rows, progress)


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


# --- Sources: Arrow record batches with the spec's columns, in the spec's order ---------------


class _CsvStructureError(Exception):
    """The CSV has a row with the wrong number of fields, or is not UTF-8; re-read to name the row."""


class _Lines:
    """A CSV file's lines, decoded one at a time so a bad byte is pinned to its own row.

    An undecodable line is replaced (U+FFFD) so reading can go on to find further errors;
    ``bad`` says that the line just handed out was one of those.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bad = False

    def __iter__(self) -> Iterator[str]:
        with self.path.open("rb") as handle:
            number = 0
            while raw := handle.readline(MAX_CSV_LINE_BYTES + 1):
                if len(raw) > MAX_CSV_LINE_BYTES:
                    raise InputError(
                        f"{self.path.name} line {number + 1}: longer than {MAX_CSV_LINE_BYTES} bytes; "
                        "no row of this file can be that long",
                        code="invalid_row",
                        param=f"line {number + 1}",
                    )
                encoding = "utf-8-sig" if number == 0 else "utf-8"
                number += 1
                try:
                    line = raw.decode(encoding)
                    self.bad = False
                except UnicodeDecodeError:
                    line = raw.decode(encoding, errors="replace")
                    self.bad = True
                yield line


def _csv_header(path: Path) -> list[str]:
    lines = _Lines(path)
    with _csv_record_errors(path.name, "header"):
        header = next(csv.reader(lines), [])
    if lines.bad:
        raise InputError(
            f"{path.name}: the header is not UTF-8 text", code="invalid_encoding", param="header"
        )
    if len(header) > MAX_CSV_COLUMNS:
        raise InputError(
            f"{path.name}: the header has {len(header)} columns; at most {MAX_CSV_COLUMNS} are read",
            code="invalid_row",
            param="header",
        )
    return header


@contextlib.contextmanager
def _csv_record_errors(source: str, where: str) -> Iterator[None]:
    """The csv module's own refusals (an over-long field, a NUL byte) as an error naming the row."""
    try:
        yield
    except csv.Error as exc:
        raise InputError(f"{source} {where}: {exc}", code="invalid_row", param=where) from None


def _csv_spec(path: Path, spec: _Spec) -> _Spec:
    header = _csv_header(path)
    if not header:
        raise InputError(f"{path.name}: the file is empty; expected a header row", code="missing_column")
    check_columns(header, spec.columns, path.name)
    file_spec = _for_file(spec, header)
    check_columns(header, file_spec.columns, path.name)
    return file_spec


def _csv_batches(path: Path, spec: _Spec, batch_rows: int) -> Iterator[pa.RecordBatch]:
    header = _csv_header(path)
    positions = check_columns(header, spec.columns, path.name)
    wanted = [header[i] for i in positions]
    problems: list[pa_csv.InvalidRow] = []

    def on_invalid_row(row: pa_csv.InvalidRow) -> Literal["skip"]:
        problems.append(row)
        return "skip"

    reader = None
    try:
        reader = pa_csv.open_csv(
            path,
            # Small blocks: larger ones make the reader hold hundreds of MB ahead of the consumer.
            read_options=pa_csv.ReadOptions(block_size=1 << 20, use_threads=False),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        pending: list[pa.RecordBatch] = []
        for block in reader:
            if problems:
                raise _CsvStructureError
            pending.append(block)
            if sum(b.num_rows for b in pending) >= batch_rows:
                *full, rest = _rebatched(pending, batch_rows)
                yield from full
                pending = [rest]
    except pa.ArrowInvalid as exc:
        raise _CsvStructureError from exc
    finally:
        # Closed at once, also when a refusal leaves this generator: a reader left to interpreter
        # shutdown has aborted the process (SIGABRT) after its error was printed.
        if reader is not None:
            reader.close()
    if problems:
        raise _CsvStructureError
    if pending:
        yield from _rebatched(pending, batch_rows)


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, pre_buffer=False)  # pre-buffering keeps every row group read
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path.name}: not a readable Parquet file ({exc})", code="invalid_file") from None


def _parquet_spec(path: Path, spec: _Spec) -> _Spec:
    names = _parquet_file(path).schema_arrow.names
    check_columns(names, spec.columns, path.name)
    return _for_file(spec, names)


def _parquet_batches(path: Path, spec: _Spec, batch_rows: int) -> Iterator[pa.RecordBatch]:
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


def _rebatched(blocks: list[pa.RecordBatch], batch_rows: int) -> list[pa.RecordBatch]:
    """The CSV reader's ~1 MB blocks regrouped into batches of ``batch_rows`` (the last one shorter)."""
    return pa.Table.from_batches(blocks).combine_chunks().to_batches(max_chunksize=batch_rows)


def _is_text(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        return _is_text(type_.value_type)
    return type_ in (pa.string(), pa.large_string(), pa.string_view(), pa.null())


def _check_type(source: str, name: str, kind: str, type_: pa.DataType) -> None:
    """Refuse a Parquet column whose type cannot hold the field, once for the whole file."""
    if _is_text(type_):
        return
    if kind in _INSTANT_KINDS:
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


# --- Validation of one batch ------------------------------------------------------------------


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


def _validate(
    batch: pa.RecordBatch, first_row: int, spec: _Spec, source: str, room: int, *, dedupe: bool = True
) -> tuple[list[Any], list[InputError]]:
    """Records of a batch (in row order, identical duplicates dropped) and up to ``room`` errors."""
    with _gc_paused():
        return _validate_columns(batch, first_row, spec, source, room, dedupe=dedupe)


def _validate_columns(
    batch: pa.RecordBatch, first_row: int, spec: _Spec, source: str, room: int, *, dedupe: bool
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
        instants = [i for i, kind in enumerate(spec.kinds) if kind in _INSTANT_KINDS]
        for index in pc.indices_nonzero(pc.invert(ok_all)).to_pylist():
            raw = [column[index].as_py() for column in columns]
            for instant in instants:
                if pa.types.is_timestamp(columns[instant].type):
                    raw[instant] = values[instant][index]  # UTC microseconds, whatever the stored unit
            try:
                records[index] = spec.build(spec.full(raw, _none), first_row + index, source, epoch_us=True)
            except InputError as exc:
                failed.append(index)
                if len(errors) < room:
                    errors.append(exc)
        if failed:
            return [], errors
    return _dedupe(records, first_row, spec, source, room) if dedupe else (records, [])


def _dedupe(
    records: list[Any], first_row: int, spec: _Spec, source: str, room: int
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


# --- The whole file ---------------------------------------------------------------------------


_first = operator.itemgetter(0)


def _none(name: str) -> None:
    return None


def _file_spec(path: Path, spec: _Spec) -> _Spec:
    """``spec`` for this file's header: which optional columns it has (refuses a bad header)."""
    return _csv_spec(path, spec) if _kind(path) == "csv" else _parquet_spec(path, spec)


def _batches(path: Path, spec: _Spec, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if _kind(path) == "csv":
        return _csv_batches(path, spec, batch_rows)
    return _parquet_batches(path, spec, batch_rows)


def _read(path: Path, spec: _Spec, batch_rows: int, progress: Progress | None) -> Iterator[list[Any]]:
    if batch_rows < 1:
        raise InputError("batch_rows must be >= 1", param="batch_rows")
    _kind(path)  # refuse a bad name before the caller starts iterating
    return _iterate(path, spec, batch_rows, progress)


def _iterate(path: Path, spec: _Spec, batch_rows: int, progress: Progress | None) -> Iterator[list[Any]]:
    source = path.name
    errors: list[InputError] = []
    hashes = array("q")  # hash of every id yielded, to find ids shared by two batches at the end
    highest = ""  # while each batch's ids all sort after the previous ones, no two batches share one
    ordered = True
    rows = 0
    try:
        spec = _file_spec(path, spec)
        for batch in _batches(path, spec, batch_rows):
            records, found = _validate(batch, rows + 1, spec, source, MAX_ERRORS - len(errors))
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
    except _CsvStructureError:
        errors = _csv_errors(path, spec)
        if not errors:
            raise InputError(f"{source}: not a valid UTF-8 CSV file", code="invalid_file") from None
    if not errors and not ordered:
        errors = _shared_ids(path, spec, batch_rows, hashes)
    if errors:
        raise BadRowsError(errors[:MAX_ERRORS], truncated=len(errors) >= MAX_ERRORS)


def _shared_ids(path: Path, spec: _Spec, batch_rows: int, hashes: array[int]) -> list[InputError]:
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
        records, _ = _validate(batch, rows + 1, spec, path.name, 0, dedupe=False)
        for index, record in enumerate(records):
            if hash(record[0]) in shared:
                first = seen.setdefault(record[0], (rows + 1 + index, record))
                if first[1] != record and len(errors) < MAX_ERRORS:
                    errors.append(duplicate_error(path.name, first, (rows + 1 + index, record)))
        rows += batch.num_rows
    return errors


def _csv_errors(path: Path, spec: _Spec) -> list[InputError]:
    """Re-read a structurally broken CSV with the csv module, which knows each record's number."""
    errors: list[InputError] = []
    source = path.name
    lines = _Lines(path)
    reader = csv.reader(lines)
    header = next(reader, [])
    positions = check_columns(header, spec.columns, source)
    row = 0
    records = iter(reader)
    while True:
        with _csv_record_errors(source, f"row {row + 1}"):
            fields = next(records, None)
        if fields is None:
            break
        if not fields:
            continue  # blank lines are not rows (as for the Arrow reader)
        row += 1
        problem = "is not UTF-8 text" if lines.bad else ""
        if not problem and len(fields) != len(header):
            problem = f"has {len(fields)} fields but the header has {len(header)}"
        if problem:
            errors.append(
                InputError(f"{source} row {row}: {problem}", code="invalid_row", param=f"row {row}")
            )
        else:
            try:
                spec.build(spec.full([fields[i] for i in positions], _none), row, source)
            except InputError as exc:
                errors.append(exc)
        if len(errors) >= MAX_ERRORS:
            break
    return errors
