"""A payout provider's daily statement (CONTRACT.md: CSV ``reference, amount, currency, state,
finished_at``), read with the same bounds as the other readers: a line longer than
``MAX_CSV_LINE_BYTES`` or a file of more than ``MAX_STATEMENT_LINES`` lines is refused before it is
held in memory, and every bad row is named with its line and field."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from pledge.adapters.files.csv_source import MAX_CSV_LINE_BYTES
from pledge.domain.errors import InputError
from pledge.domain.money import parse_minor
from pledge.usecases.payout_reconcile import StatementLine

COLUMNS: Final = ("reference", "amount", "currency", "state", "finished_at")
MAX_STATEMENT_LINES: Final = 20_000_000  # a merchant's day at WeChat's limits is far below this


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_CSV_LINE_BYTES + 1):
            number += 1
            if len(raw) > MAX_CSV_LINE_BYTES:
                raise InputError(
                    f"{path.name}: line {number} is longer than {MAX_CSV_LINE_BYTES:,} bytes",
                    param="statement",
                )
            if number > MAX_STATEMENT_LINES + 1:
                raise InputError(f"{path.name}: more than {MAX_STATEMENT_LINES:,} lines", param="statement")
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path.name}: line {number} is not UTF-8", param="statement") from exc


def read_statement(path: Path | str) -> Iterator[StatementLine]:
    """The statement's lines, checked; raises InputError naming the line and field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file", param="statement")
    numbered = _lines(path)
    first = next(numbered, None)
    header = [h.strip() for h in next(csv.reader([first[1]]))] if first else []
    if tuple(header) != COLUMNS:
        raise InputError(f"{path.name}: the header must be {', '.join(COLUMNS)}", param="statement")
    for number, text in numbered:
        if not text.strip():
            continue
        row = next(csv.reader([text]))
        if len(row) != len(COLUMNS):
            raise InputError(
                f"{path.name}: line {number} has {len(row)} fields, not {len(COLUMNS)}", param="statement"
            )
        reference, amount, currency, state, finished_at = (v.strip() for v in row)
        if not reference or len(reference) > 64:
            raise InputError(f"{path.name}: line {number}: reference: 1 to 64 characters", param="reference")
        try:
            minor = parse_minor(amount, currency, param="amount")
        except InputError as exc:
            raise InputError(f"{path.name}: line {number}: {exc.message}", param=exc.param) from exc
        yield StatementLine(reference, minor, currency, state, finished_at[:40])
