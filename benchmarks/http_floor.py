"""The HTTP floor: the same framework (FastAPI on uvicorn, the same number of workers) answering an
indexed lookup of the same rows from the same database, with none of Pledge's work (keys, scopes,
rules, limits, audit, ledger). ``benchmarks/http.py`` measures Pledge's endpoints against it.

    PLEDGE_FLOOR_DB=sqlite:///… python -m benchmarks.http_floor --port 8001 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException

from benchmarks.common import is_sqlite, libpq_url, sqlite_file

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
_local = threading.local()
_URL = os.environ.get("PLEDGE_FLOOR_DB", "")


def _connection() -> Any:
    """One connection per thread (uvicorn runs sync routes in a thread pool)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        if is_sqlite(_URL):
            conn = sqlite3.connect(sqlite_file(_URL), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
        else:
            import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

            conn = psycopg.connect(libpq_url(_URL), autocommit=True)
        _local.conn = conn
    return conn


def _execute(sql: str, *params: Any) -> Any:
    return _connection().execute(sql.replace("?", "?" if is_sqlite(_URL) else "%s"), params)


def _rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(_execute(sql, *params).fetchall())


@app.get("/floor/accounts/{account_id}/eligibility")
def eligibility(account_id: str) -> dict[str, Any]:
    rows = _rows(
        "SELECT purchase_id, sku, purchased_at_us, price_minor, currency, status, account_region "
        "FROM purchases WHERE account_id = ?",
        account_id,
    )
    keys = ("purchase_id", "sku", "purchased_at_us", "price_minor", "currency", "status", "region")
    return {"account_id": account_id, "purchases": [dict(zip(keys, r, strict=True)) for r in rows]}


@app.get("/floor/grants")
def grants(account: str) -> dict[str, Any]:
    rows = _rows(
        "SELECT grant_id, campaign_id, amount_minor, currency, state FROM floor_grants "
        "WHERE account_id = ? ORDER BY grant_id LIMIT 10",
        account,
    )
    keys = ("id", "campaign", "amount_minor", "currency", "state")
    return {"data": [dict(zip(keys, r, strict=True)) for r in rows]}


@app.post("/floor/grants/{grant_id}/claim")
def claim(grant_id: str) -> dict[str, Any]:
    now = time.time_ns() // 1000
    _execute(
        "UPDATE floor_grants SET state = 'claimed', claimed_at_us = ? "
        "WHERE grant_id = ? AND state = 'issued'",
        now,
        grant_id,
    )
    found = _rows("SELECT grant_id, state, amount_minor FROM floor_grants WHERE grant_id = ?", grant_id)
    if not found:
        raise HTTPException(404)
    return {"id": found[0][0], "state": found[0][1], "amount_minor": found[0][2]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    uvicorn.run(
        "benchmarks.http_floor:app",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
