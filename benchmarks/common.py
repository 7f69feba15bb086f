"""What every benchmark worker shares: child processes with their peak RSS, URLs, the campaign.

Each measured step runs in its own process, so its peak resident memory is the
child's ``ru_maxrss`` as ``wait4`` reports it (the PostgreSQL server's own
memory is not counted). Workers print one JSON document on stdout.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from sqlalchemy.engine import make_url

from pledge.adapters.files.documents import load_yaml_file
from pledge.domain.campaign import CashbackTerms, parse_cashback_terms

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "pledge" / "examples" / "founders-refund.yaml"
CAMPAIGN_ID = "founders-refund"


@dataclass(frozen=True, slots=True)
class Child:
    """A finished child process: wall seconds, peak RSS in MiB, exit code and output."""

    seconds: float
    rss_mib: float
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout.strip().splitlines()[-1])


class ChildFailed(RuntimeError):
    pass


def run_child(args: Sequence[str], *, cwd: Path | None = None, check: bool = True) -> Child:
    """Run ``args`` and wait with ``wait4`` to read the child's own peak RSS."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    env.pop("PLEDGE_DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(args), stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        child = Child(
            seconds,
            usage.ru_maxrss / 1024,  # KiB on Linux
            code,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
    if check and code != 0:
        raise ChildFailed(f"{' '.join(args)} exited {code}: {child.stderr[-2000:]}{child.stdout[-500:]}")
    return child


def pledge_cli(*args: str, cwd: Path | None = None) -> Child:
    return run_child([sys.executable, "-m", "pledge", *args], cwd=cwd)


def worker(module: str, *args: str) -> Child:
    return run_child([sys.executable, "-m", f"benchmarks.{module}", *args])


def emit(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


# --- Databases -------------------------------------------------------------------------------


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> str:
    database = make_url(url).database
    if not database:
        raise ValueError(f"{url}: a SQLite benchmark needs a file")
    return database


def sqlite_connect(path: str) -> sqlite3.Connection:
    """Autocommit connection with Pledge's own pragmas (WAL, synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def libpq_url(url: str) -> str:
    """The URL psycopg takes (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_schema(url: str, keep: bool = False) -> Iterator[str]:
    """A fresh schema for one run (dropped after): the URL's search_path is replaced by it."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    base = urlunsplit(parts._replace(query=urlencode(query)))
    schema = f"bench_{os.getpid()}_{time.time_ns() // 1000 % 10**9}"
    with psycopg.connect(libpq_url(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    query.append(("options", f"-csearch_path={schema}"))
    try:
        yield urlunsplit(parts._replace(query=urlencode(query)))
    finally:
        if not keep:
            with psycopg.connect(libpq_url(base), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- The campaign ----------------------------------------------------------------------------


def campaign_document(rows: int) -> dict[str, Any]:
    """The founders' refund with a budget large enough that every qualifying purchase is granted."""
    document: dict[str, Any] = load_yaml_file(EXAMPLE)
    document["budget"] = f"{max(rows, 1) * 2000}.00"  # each grant is at most 1999.00
    return document


def write_campaign(folder: Path, rows: int) -> Path:
    path = folder / "founders-refund-bench.yaml"
    path.write_text(yaml.safe_dump(campaign_document(rows), allow_unicode=True), encoding="utf-8")
    return path


def load_terms(path: Path) -> CashbackTerms:
    return parse_cashback_terms(load_yaml_file(path))


# --- Statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
