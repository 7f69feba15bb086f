"""Candidates selected elsewhere (a candidate set, ADR 29), prepared like a selection of our own.

The rows are copied into a temporary table in batches (``COPY`` on PostgreSQL), then prepared by
:class:`SqlCandidates` exactly as the candidates of ``purchases`` are: the same split into free and
conflicting candidates, the same limits, grants so far and promise group. A purchase id twice in
the set is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from pledge.adapters.sqlalchemy.candidates import CANDIDATE_COLUMNS, SqlCandidates
from pledge.adapters.sqlalchemy.database import bulk_insert
from pledge.domain.campaign import CashbackTerms
from pledge.domain.errors import InputError
from pledge.domain.issuance import Candidate


class LoadedCandidates(SqlCandidates):
    """:class:`SqlCandidates` over a temporary table of loaded rows, dropped with the rest."""

    def __init__(self, conn: Connection, loaded: str, terms: CashbackTerms, *, count_issued: bool) -> None:
        self._loaded = loaded
        super().__init__(conn, f"SELECT {CANDIDATE_COLUMNS} FROM {loaded}", terms, count_issued=count_issued)

    def close(self) -> None:
        was_closed = self._closed
        super().close()
        if not was_closed and not self._conn.closed and self._conn.in_transaction():
            self._conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self._loaded}")


def prepare_rows(
    conn: Connection, batches: Iterable[Sequence[Candidate]], terms: CashbackTerms, *, count_issued: bool
) -> LoadedCandidates:
    postgres = conn.dialect.name == "postgresql"
    name = f"pledge_set_{secrets.token_hex(4)}"
    on_commit = " ON COMMIT DROP" if postgres else ""
    # The key is built after the load: one sort instead of a B-tree insert per row in random order.
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {name} (purchase_id VARCHAR(128) NOT NULL, account_id VARCHAR(128) "
        "NOT NULL, serial VARCHAR(128) NOT NULL, purchased_at_us BIGINT NOT NULL, price_minor BIGINT "
        f"NOT NULL, currency VARCHAR(3) NOT NULL){on_commit}"
    )
    columns = CANDIDATE_COLUMNS.split(", ")
    for batch in batches:
        bulk_insert(conn, name, columns, batch)
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(f"CREATE UNIQUE INDEX {name}_key ON {name} (purchase_id)")
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        raise InputError(
            "candidates: a purchase_id appears twice in the candidate set",
            code="duplicate_candidate",
            param="candidates",
        ) from None
    if postgres:
        conn.exec_driver_sql(f"ANALYZE {name}")
    return LoadedCandidates(conn, name, terms, count_issued=count_issued)
