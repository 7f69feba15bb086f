"""Candidate sets on disk: ``candidates.parquet`` and ``manifest.json`` in one directory (ADR 29).

The checksum is engine-neutral: SHA-256 over every row in file order, each row its six values as
text (integers in decimal), separated by U+001F and ended by a newline, in UTF-8. Any engine that
writes a set computes it the same way, and ``campaign run --candidates`` recomputes it as it reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pledge.domain.errors import InputError
from pledge.domain.issuance import Candidate

FORMAT = "pledge-candidates/1"
DATA_FILE = "candidates.parquet"
MANIFEST = "manifest.json"
# File order is the issuance order; Candidate's field order is the planner's.
FILE_COLUMNS = ("purchased_at_us", "purchase_id", "account_id", "serial", "price_minor", "currency")
BATCH_ROWS = 10_000
_REQUIRED = ("format", "campaign", "terms_version", "content_hash", "rows", "checksum", "files")


class RowDigest:
    """The running checksum of rows in file order, computed a batch at a time by Arrow.

    Each column is cast to text (integers in decimal, as Python's ``str`` writes them; a missing
    value as ``None``), the six are joined by U+001F and ended by a newline, and the batch's text,
    which Arrow keeps in one contiguous buffer, is hashed in one call: no Python object per row.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        texts = [pc.cast(column, pa.string()) for column in batch.columns]
        # Each line ends with one more U+001F (joined with an empty last value), made the newline below.
        lines = _join(*texts, pa.scalar(""), "\x1f", null_handling="replace", null_replacement="None")
        lines = pc.binary_replace_slice(lines, -1, _END, "\n")  # … which becomes the newline
        _, offsets_buffer, data = lines.buffers()
        assert offsets_buffer is not None, "a string array has offsets"
        assert data is not None, "a non-empty string array has data"
        offsets = memoryview(offsets_buffer).cast("i")  # int32: ``string``, not ``large_string``
        self._hash.update(memoryview(data)[offsets[lines.offset] : offsets[lines.offset + len(lines)]])
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


# The stubs type the separator like the values; Arrow takes a plain string.
_join: Callable[..., Any] = pc.binary_join_element_wise
_END = 2**31 - 1  # the end of any string: ``binary_replace_slice`` clamps it
_TYPES = {c: pa.int64() if c in ("purchased_at_us", "price_minor") else pa.string() for c in FILE_COLUMNS}
SCHEMA = pa.schema(list(_TYPES.items()))


def file_batches(path: str, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """A Parquet file's rows in file order, as ``FILE_COLUMNS`` (int64 or text), in batches."""
    try:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=list(FILE_COLUMNS)):
            yield pa.RecordBatch.from_arrays(
                [pc.cast(batch.column(c), _TYPES[c]) for c in FILE_COLUMNS], schema=SCHEMA
            )
    except (pa.ArrowException, OSError, KeyError) as exc:
        raise InputError(
            f"candidates: {path} is not a readable candidate file: {exc}", param="candidates"
        ) from None


def digest_file(path: str) -> tuple[int, str]:
    digest = RowDigest()
    for batch in file_batches(path):
        digest.add(batch)
    return digest.rows, digest.hexdigest()


def first_out_of_order(at: pa.Array[Any], ids: pa.Array[Any], last: tuple[int, bytes] | None) -> int | None:
    """The index of the first row not after the row before it in (instant, id bytes), or None.

    Arrow compares strings by their bytes, the order ``campaign select`` writes in."""
    if last is not None and (at[0].as_py(), ids[0].as_py().encode()) <= last:
        return 0
    if len(at) < 2:
        return None
    a0, a1, i0, i1 = at[:-1], at[1:], ids[:-1], ids[1:]
    after = pc.or_(pc.greater(a1, a0), pc.and_(pc.equal(a1, a0), pc.greater(i1, i0)))
    if pc.all(after).as_py():
        return None
    return int(pc.index(after, False).as_py()) + 1


class OrderCheck:
    """Rows strictly increasing in (purchase instant, purchase id bytes), across batches."""

    def __init__(self) -> None:
        self._last: tuple[int, bytes] | None = None

    def first_wrong(self, batch: pa.RecordBatch) -> int | None:
        """The index of the batch's first row out of order, or None (and the batch is taken)."""
        if batch.num_rows == 0:
            return None
        at, ids = batch.column(0), batch.column(1)
        wrong = first_out_of_order(at, ids, self._last)
        if wrong is None:
            self._last = (cast(int, at[-1].as_py()), cast(str, ids[-1].as_py()).encode())
        return wrong


class FileCandidateSet:
    """One candidate set on disk; ``batches`` checks order, count and checksum as it reads."""

    def __init__(self, directory: Path, manifest: Mapping[str, Any]) -> None:
        self.directory, self.manifest = directory, manifest

    def batches(self) -> Iterator[Sequence[Candidate]]:
        digest, order = RowDigest(), OrderCheck()
        for name in self.manifest["files"]:
            for batch in file_batches(str(self.directory / name)):
                digest.add(batch)
                _check_complete(batch)
                at, purchase, account, serial, price, currency = (c.to_pylist() for c in batch.columns)
                # complete (checked above): every value is an int or a str
                wrong = order.first_wrong(batch)
                if wrong is not None:
                    raise InputError(
                        f"candidates: purchase {purchase[wrong]} is out of (purchase instant, purchase id) "
                        "order; the set was not written by campaign select",
                        code="candidates_out_of_order",
                        param="candidates",
                    )
                yield list(map(Candidate, purchase, account, serial, at, price, currency))
        if digest.rows != self.manifest["rows"] or digest.hexdigest() != self.manifest["checksum"]:
            raise InputError(
                f"candidates: the rows do not match the manifest ({digest.rows} rows, checksum "
                f"{digest.hexdigest()}; the manifest says {self.manifest['rows']} rows, "
                f"{self.manifest['checksum']}): the set was changed after it was written; select again",
                code="candidates_checksum_mismatch",
                param="candidates",
            )


def _check_complete(batch: pa.RecordBatch) -> None:
    for name, column in zip(FILE_COLUMNS, batch.columns, strict=True):
        if column.null_count:
            row = int(pc.index(pc.is_null(column), True).as_py())
            raise InputError(
                f"candidates: a row has no {name} (purchase {batch.column(1)[row].as_py()})",
                code="candidates_incomplete",
                param=f"candidates: {name}",
            )


class FileCandidateSets:
    def write_manifest(self, out_dir: str, manifest: Mapping[str, Any]) -> None:
        path = Path(out_dir) / MANIFEST
        path.write_text(json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def open(self, directory: str) -> FileCandidateSet:
        base = Path(directory)
        try:
            manifest = json.loads((base / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(
                f"candidates: {base / MANIFEST} does not exist (write the set with campaign select)",
                code="candidates_not_found",
                param="candidates",
            ) from None
        except (OSError, ValueError) as exc:
            raise InputError(
                f"candidates: {base / MANIFEST} is not readable JSON: {exc}", param="candidates"
            ) from None
        missing = [key for key in _REQUIRED if not isinstance(manifest, dict) or key not in manifest]
        if missing or manifest.get("format") != FORMAT:
            raise InputError(
                f"candidates: {base / MANIFEST} is not a {FORMAT} manifest"
                + (f" (missing {', '.join(missing)})" if missing else ""),
                code="candidates_bad_manifest",
                param="candidates",
            )
        files = manifest["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) and "/" not in f for f in files):
            raise InputError(
                "candidates: the manifest's files must be names in its directory", param="candidates"
            )
        return FileCandidateSet(base, manifest)
