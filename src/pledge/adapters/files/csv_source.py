"""A CSV file as Arrow record batches of the spec's columns, in the spec's order.

Arrow reads the file; a structural problem (a row with the wrong number of fields,
bytes that are not UTF-8) stops it, and :func:`csv_errors` re-reads the file with
the csv module, which knows each record's number, to name every bad row.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pa_csv

from pledge.adapters.files.row_specs import RowSpec, no_value, spec_for_file
from pledge.domain.errors import InputError
from pledge.domain.validation import MAX_ERRORS, check_columns

# No row of an accounts or purchases file comes near these; a file that does is refused
# before its line is held in memory whole (a 5 GB file with no newline is one "line").
MAX_CSV_LINE_BYTES = 1 << 20  # also the Arrow reader's block size: a longer row cannot straddle two
MAX_CSV_COLUMNS = 256


class CsvStructureError(Exception):
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


def csv_spec(path: Path, spec: RowSpec) -> RowSpec:
    header = _csv_header(path)
    if not header:
        raise InputError(f"{path.name}: the file is empty; expected a header row", code="missing_column")
    check_columns(header, spec.columns, path.name)
    file_spec = spec_for_file(spec, header)
    check_columns(header, file_spec.columns, path.name)
    return file_spec


def csv_batches(path: Path, spec: RowSpec, batch_rows: int) -> Iterator[pa.RecordBatch]:
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
                raise CsvStructureError
            pending.append(block)
            if sum(b.num_rows for b in pending) >= batch_rows:
                *full, rest = _rebatched(pending, batch_rows)
                yield from full
                pending = [rest]
    except pa.ArrowInvalid as exc:
        raise CsvStructureError from exc
    finally:
        # Closed at once, also when a refusal leaves this generator: a reader left to interpreter
        # shutdown has aborted the process (SIGABRT) after its error was printed.
        if reader is not None:
            reader.close()
    if problems:
        raise CsvStructureError
    if pending:
        yield from _rebatched(pending, batch_rows)


def _rebatched(blocks: list[pa.RecordBatch], batch_rows: int) -> list[pa.RecordBatch]:
    """The CSV reader's ~1 MB blocks regrouped into batches of ``batch_rows`` (the last one shorter)."""
    return pa.Table.from_batches(blocks).combine_chunks().to_batches(max_chunksize=batch_rows)


def csv_errors(path: Path, spec: RowSpec) -> list[InputError]:
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
                spec.build(spec.full([fields[i] for i in positions], no_value), row, source)
            except InputError as exc:
                errors.append(exc)
        if len(errors) >= MAX_ERRORS:
            break
    return errors
