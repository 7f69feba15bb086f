"""Candidate sets on disk: ``candidates.parquet`` and ``manifest.json`` in one directory (ADR 29).

The checksum is engine-neutral: SHA-256 over every row in file order, each row its six values as
text (integers in decimal), separated by U+001F and ended by a newline, in UTF-8. Any engine that
writes a set computes it the same way, and ``campaign run --candidates`` recomputes it as it reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

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
    """The running checksum of rows in file order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        update = self._hash.update
        for row in rows:
            update(("\x1f".join(map(str, row)) + "\n").encode())
            self.rows += 1

    def hexdigest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def file_rows(path: str, batch_rows: int = BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
    """A Parquet file's rows in file order, as ``FILE_COLUMNS`` tuples, in batches."""
    con = duckdb.connect(":memory:", config={"preserve_insertion_order": True})
    try:
        cursor = con.execute(f"SELECT {', '.join(FILE_COLUMNS)} FROM read_parquet(?)", [path])
        while batch := cursor.fetchmany(batch_rows):
            yield batch
    except duckdb.Error as exc:
        raise InputError(
            f"candidates: {path} is not a readable candidate file: {exc}", param="candidates"
        ) from None
    finally:
        con.close()


def digest_file(path: str) -> tuple[int, str]:
    digest = RowDigest()
    for batch in file_rows(path):
        digest.add(batch)
    return digest.rows, digest.hexdigest()


class FileCandidateSet:
    """One candidate set on disk; ``batches`` checks order, count and checksum as it reads."""

    def __init__(self, directory: Path, manifest: Mapping[str, Any]) -> None:
        self.directory, self.manifest = directory, manifest

    def batches(self) -> Iterator[Sequence[Candidate]]:
        digest = RowDigest()
        last: tuple[int, bytes] | None = None
        for name in self.manifest["files"]:
            for batch in file_rows(str(self.directory / name)):
                digest.add(batch)
                out = []
                for at, purchase, account, serial, price, currency in batch:
                    key = (at, purchase.encode())
                    if last is not None and key <= last:
                        raise InputError(
                            f"candidates: purchase {purchase} is out of (purchase instant, purchase id) "
                            "order; the set was not written by campaign select",
                            code="candidates_out_of_order",
                            param="candidates",
                        )
                    last = key
                    out.append(Candidate(purchase, account, serial, at, price, currency))
                yield out
        if digest.rows != self.manifest["rows"] or digest.hexdigest() != self.manifest["checksum"]:
            raise InputError(
                f"candidates: the rows do not match the manifest ({digest.rows} rows, checksum "
                f"{digest.hexdigest()}; the manifest says {self.manifest['rows']} rows, "
                f"{self.manifest['checksum']}): the set was changed after it was written; select again",
                code="candidates_checksum_mismatch",
                param="candidates",
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
