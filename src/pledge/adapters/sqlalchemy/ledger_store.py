"""The hash-chained ledger on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, select, update

from pledge.adapters.sqlalchemy.database import bulk_insert
from pledge.adapters.sqlalchemy.purchases import STREAM
from pledge.adapters.sqlalchemy.tables import (
    ledger_entries,
    ledger_head,
)
from pledge.domain.ledger import ChainedTransfer, Transfer, chain

_LEDGER_INSERT = ("seq", "transfer_id", "debit_account", "credit_account", "asset", "amount", "kind", "ref",
                  "at_us", "prev_hash", "hash")  # fmt: skip


class SqlLedger:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def head(self) -> tuple[int, str]:
        row = self._conn.execute(
            select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
        ).one()
        return int(row.seq), row.hash

    def append(self, transfers: Iterable[Transfer]) -> int:
        """Chain and store transfers after the head, holding the head's row lock."""
        row = self._conn.execute(
            select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1).with_for_update()
        ).one()
        chained = chain(transfers, int(row.seq), row.hash)
        if not chained:
            return 0
        rows = [
            (c.seq, c.transfer.id, c.transfer.debit_account, c.transfer.credit_account, c.transfer.asset,
             c.transfer.amount, c.transfer.kind, c.transfer.ref, c.transfer.at_us, c.prev_hash, c.hash)
            for c in chained
        ]  # fmt: skip
        bulk_insert(self._conn, "ledger_entries", _LEDGER_INSERT, rows)
        last = chained[-1]
        self._conn.execute(
            update(ledger_head).where(ledger_head.c.id == 1).values(seq=last.seq, hash=last.hash)
        )
        return len(chained)

    def entries(self) -> Iterator[ChainedTransfer]:
        e = ledger_entries.c
        rows = self._conn.execute(
            select(
                e.seq,
                e.transfer_id,
                e.debit_account,
                e.credit_account,
                e.asset,
                e.amount,
                e.kind,
                e.ref,
                e.at_us,
                e.prev_hash,
                e.hash,
            ).order_by(e.seq),
            execution_options=STREAM,
        )
        for r in rows:
            yield ChainedTransfer(
                int(r[0]), Transfer(r[1], r[2], r[3], r[4], int(r[5]), r[6], r[7], int(r[8])), r[9], r[10]
            )
