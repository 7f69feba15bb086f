"""The candidate set's checksum and order check, computed by Arrow a batch at a time, agree with their
definitions row by row (ADR 29): any engine that writes a set by the definition is accepted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.adapters.engines.candidate_files import SCHEMA, RowDigest, first_out_of_order

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_row = st.tuples(
    st.integers(-(2**63), 2**63 - 1), _text, st.none() | _text, _text, st.integers(-(2**63), 2**63 - 1), _text
)


def _batch(rows: Sequence[tuple[Any, ...]]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) or [[] for _ in SCHEMA.types]
    return pa.RecordBatch.from_arrays(
        [pa.array(c, t) for c, t in zip(columns, SCHEMA.types, strict=True)], schema=SCHEMA
    )


def _defined(rows: Sequence[tuple[Any, ...]]) -> str:
    """The checksum as ADR 29 defines it: each row's values as text, U+001F between, a newline after."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(("\x1f".join(map(str, row)) + "\n").encode())
    return "sha256:" + digest.hexdigest()


@settings(max_examples=200, deadline=None)
@given(st.lists(_row, max_size=30), st.integers(0, 30))
def test_the_checksum_is_the_definition_whatever_the_batches(rows: list[tuple[Any, ...]], cut: int) -> None:
    digest = RowDigest()
    batch = _batch(rows)
    digest.add(batch.slice(0, cut))  # a slice: Arrow's offsets do not start at zero
    digest.add(batch.slice(cut))
    assert digest.rows == len(rows)
    assert digest.hexdigest() == _defined(rows)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.text("aéz\x00", max_size=3)), min_size=1, max_size=12),
    st.none() | st.tuples(st.integers(0, 3), st.text("aéz\x00", max_size=3)),
)
def test_the_order_check_compares_instants_then_id_bytes(
    keys: list[tuple[int, str]], last: tuple[int, str] | None
) -> None:
    previous = None if last is None else (last[0], last[1].encode())
    expected = None
    for index, (at, purchase) in enumerate(keys):
        key = (at, purchase.encode())
        if previous is not None and key <= previous:
            expected = index
            break
        previous = key
    at = pa.array([k[0] for k in keys], pa.int64())
    ids = pa.array([k[1] for k in keys], pa.string())
    assert first_out_of_order(at, ids, None if last is None else (last[0], last[1].encode())) == expected
