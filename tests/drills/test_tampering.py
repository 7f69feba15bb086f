"""Tampering drill: a ledger or audit row edited, deleted or reordered with SQL is detected.

Each tampering is made directly in the database (as someone with write access would), checked
with `pledge ledger verify` / `pledge audit verify` (exit 1 expected), then undone; the verify
must pass again, so each detection is of that tampering and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, text

from pledge.bootstrap import App
from tests.drills.conftest import NOW, db_name, figure, prepared, serving
from tests.e2e.test_cli import Pledge

CHAINS = {"ledger": "ledger_entries", "audit": "audit_log"}


def row(conn: Connection, table: str, seq: int) -> dict[str, Any]:
    return dict(conn.execute(text(f"SELECT * FROM {table} WHERE seq = :s"), {"s": seq}).mappings().one())


def insert(conn: Connection, table: str, values: dict[str, Any]) -> None:
    names = ", ".join(f'"{k}"' for k in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in values)})"), values)


def swap(conn: Connection, table: str, a: int, b: int) -> None:
    for old, new in ((a, -1), (b, a), (-1, b)):
        conn.execute(text(f"UPDATE {table} SET seq = :new WHERE seq = :old"), {"old": old, "new": new})


def tamperings(
    table: str, column: str, seqs: list[int]
) -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    """(name, tamper, undo) for one chain; ``column`` is a field whose edit must be noticed."""
    middle, last = seqs[len(seqs) // 2], seqs[-1]
    saved: dict[str, dict[str, Any]] = {}

    def edit(conn: Connection) -> None:
        saved["edit"] = row(conn, table, middle)
        value = saved["edit"][column]
        changed = value + 1 if isinstance(value, int) else f"{value}x"
        conn.execute(text(f'UPDATE {table} SET "{column}" = :v WHERE seq = :s'), {"v": changed, "s": middle})

    def unedit(conn: Connection) -> None:
        conn.execute(text(f"DELETE FROM {table} WHERE seq = :s"), {"s": middle})
        insert(conn, table, saved["edit"])

    def delete(seq: int) -> Callable[[Connection], None]:
        def run(conn: Connection) -> None:
            saved[f"delete {seq}"] = row(conn, table, seq)
            conn.execute(text(f"DELETE FROM {table} WHERE seq = :s"), {"s": seq})

        return run

    def undelete(seq: int) -> Callable[[Connection], None]:
        return lambda conn: insert(conn, table, saved[f"delete {seq}"])

    return [
        (f"edited {column}", edit, unedit),
        ("deleted a middle row", delete(middle), undelete(middle)),
        ("deleted the last row", delete(last), undelete(last)),
        (
            "reordered two rows",
            lambda c: swap(c, table, middle, middle + 1),
            lambda c: swap(c, table, middle, middle + 1),
        ),
    ]


def verify(cli: Pledge, chain: str, expect: int) -> dict[str, Any]:
    done = cli.run(chain, "verify", "--json", expect=expect)
    return dict(json.loads(done.stdout))


def test_tampering_is_detected(db_url: str, tmp_path: Path) -> None:
    cli = prepared(db_url, tmp_path)
    cli.json("campaign", "run", "founders-refund", "--now", NOW)
    operator = cli.key("operator", "op")
    customer = str(
        cli.json("keys", "create", "--scope", "customer", "--name", "c", "--account", "A-cn-1")["secret"]
    )
    with serving(db_url, tmp_path) as url, httpx.Client(base_url=url, timeout=60) as http:
        grant = http.get("/v1/grants", headers={"Authorization": f"Bearer {customer}"}).json()["data"][0]
        claim = http.post(f"/v1/grants/{grant['id']}/claim", headers={"Authorization": f"Bearer {customer}"})
        assert claim.status_code == 200, claim.text
        for action in ("pause", "resume", "pause", "resume"):  # audited writes, for the audit chain
            done = http.post(
                f"/v1/campaigns/founders-refund/{action}", headers={"Authorization": f"Bearer {operator}"}
            )
            assert done.status_code == 200, done.text
    cli.json("grants", "expire", "--now", "2021-10-01T00:00:00+08:00")
    assert verify(cli, "ledger", 0)["ok"] and verify(cli, "audit", 0)["ok"]

    app = App(db_url)  # only its engine: the tampering is plain SQL
    engine = app.engine
    detected: dict[str, int] = {}
    try:
        for chain, table in CHAINS.items():
            with engine.connect() as conn:
                seqs = [int(s) for s in conn.execute(text(f"SELECT seq FROM {table} ORDER BY seq")).scalars()]
            assert len(seqs) >= 3, f"{table} has {len(seqs)} rows: too few to tamper with"
            column = "amount" if chain == "ledger" else "after"
            for name, tamper, undo in tamperings(table, column, seqs):
                with engine.begin() as conn:
                    tamper(conn)
                found = verify(cli, chain, 1)
                assert found["ok"] is False, (chain, name, found)
                detected[f"{chain}: {name}"] = 1
                with engine.begin() as conn:
                    undo(conn)
                assert verify(cli, chain, 0)["ok"], (chain, name, "still broken after undoing")
    finally:
        app.close()
    figure(
        f"tampering [{db_name(db_url)}]: {len(detected)} of {4 * len(CHAINS)} tamperings detected "
        f"({'; '.join(detected)}), each verify ok again once undone"
    )
    assert len(detected) == 4 * len(CHAINS)
