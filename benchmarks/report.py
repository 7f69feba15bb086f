"""The benchmark's table: rows, formatting, machine details and the Markdown file it lives in."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import is_sqlite, libpq_url

# Every row the report has, in order (the smoke test checks them all).
STEPS = (
    "generate (pledge generate)",
    "import accounts",
    "import purchases",
    "floor: import into bare table",
    "floor: import, Pledge's indexes maintained",
    "floor: import, Pledge's indexes built after",
    "dry run (campaign simulate)",
    "floor: SELECT COUNT(*) WHERE rule",
    "launch (campaign launch)",
    "issuance (campaign run)",
    "floor: bulk insert grants + ledger",
    "floor: bulk insert, Pledge's keys/indexes",
    "import + dry run + run (summed)",
    "expiry (grants expire)",
    "floor: SUM the due grants",
    "baseline: UPDATE the same grants",
    "explain one account (in-process)",
    "explain one account (CLI process)",
    "rule evaluation per purchase",
    "rule evaluation, explain path",
    "rule evaluation, memo off",
    "push-down (Pledge)",
    "push-down, dry run's full scan (Pledge)",
    "per-row peer: zen-engine",
    "per-row peer: cel-expr-python",
    "per-row reference: plain Python",
    "CLI startup (pledge --help)",
    "peak RSS (largest step)",
)


@dataclass(slots=True)
class Row:
    step: str
    time: str = ""  # formatted with its unit
    rows: int | None = None
    rate: float | None = None  # rows/s
    floor: str = ""
    ratio: float | None = None
    rss_mib: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    seconds: float | None = None  # ``time`` unformatted, for ratios and sums


@dataclass(slots=True)
class Report:
    db_kind: str
    rows: int
    command: str
    machine: dict[str, str]
    table: dict[str, Row] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    steps: tuple[str, ...] = STEPS  # every row this report has, in order
    # The section's heading and marker: by default the database's name and kind.
    title: str = ""
    tag: str = ""

    def row(self, step: str) -> Row:
        if step not in self.steps:
            raise KeyError(step)
        return self.table.setdefault(step, Row(step))

    def ordered(self) -> list[Row]:
        return [self.table.get(step) or Row(step, note="not run") for step in self.steps]


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1:
        return f"{value:,.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:,.2f} ms"
    return f"{value * 1e6:,.2f} µs"


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _cells(row: Row) -> list[str]:
    met = "" if row.met is None else ("yes" if row.met else "**NO**")
    ratio = "" if row.ratio is None else f"{row.ratio:,.2f}×"
    rss = _num(row.rss_mib)
    return [
        row.step,
        row.time,
        _num(row.rows),
        _num(row.rate),
        row.floor,
        ratio,
        rss,
        row.target,
        met,
        row.note,
    ]


HEADER = ("step", "time", "rows", "rows/s", "floor", "ratio", "peak RSS MiB", "target", "met", "notes")


def text_table(report: Report) -> str:
    lines = [[*HEADER], *(_cells(r) for r in report.ordered())]
    widths = [min(48, max(len(line[i]) for line in lines)) for i in range(len(HEADER) - 1)]
    out = []
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        out.append("  ".join(cells) + "  " + line[-1])
    return "\n".join(out)


def markdown_table(report: Report) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in report.ordered():
        cells = [c.replace("|", "\\|") for c in _cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- Machine ---------------------------------------------------------------------------------


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _git() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (src/ modified)" if dirty else "")


def machine(url: str) -> dict[str, str]:
    details = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{_cpu()}, {os.cpu_count()} cores",
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "pledge commit": _git(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if is_sqlite(url):
        details["database"] = f"SQLite {sqlite3.sqlite_version} (file in a temp dir, WAL)"
    else:
        import psycopg  # noqa: PLC0415 - only PostgreSQL runs need it

        with psycopg.connect(libpq_url(url)) as conn:
            found = conn.execute("SHOW server_version").fetchone()
        details["database"] = f"PostgreSQL {found[0] if found else '?'} (local, same machine)"
    return details


# --- The Markdown file -----------------------------------------------------------------------

INTRO = """# Benchmarks

Generated by `python -m benchmarks.run` (see `benchmarks/`): it generates a seeded data set with
`pledge generate`, then runs every Pledge step as its own process (`python -m pledge ...`, so
times include the CLI's start-up and the peak RSS is that process's own `ru_maxrss`) and measures
each against a floor taken in the same run, on the same machine, at the same moment:

- **import**: the same file read with pyarrow, converted column-wise to the stored form and inserted
  as tuples into a bare table of the same columns (SQLite: `executemany` in one transaction;
  PostgreSQL: `COPY ... FROM STDIN`). The ratio is against that whole floor (read + insert); the
  notes give the insert alone.
- **dry run**: the full `campaign simulate` report against one hand-written
  `SELECT COUNT(*) ... WHERE <the same rule>` on the same table (`purchases`, which carries the
  account's region, ADR 12; median of 3, warm).
- **issuance**: `campaign run` (the free candidates' and the ranked accounts' grants in one
  statement, the other conflicting ones with one ledger posting per 10,000, ADR 11 and 39) against
  a bulk insert of the same number of rows into bare tables.
- **push-down vs peers**: the rule compiled to SQL by Pledge, counting the purchases that qualify,
  against pulling the rows into Python and evaluating the same rule per row with zen-engine 2.1.3
  and cel-expr-python (rows/s; pulling is charged to every peer): both compute whether each row
  qualifies. The dry run's full scan (every condition on every row, for rejections per
  condition) is shown beside it.

Sections between `bench:` markers are rewritten by each run; the rest of this file is kept.
"""


def _section(report: Report) -> str:
    name = report.title or ("SQLite" if report.db_kind == "sqlite" else "PostgreSQL")
    tag = _tag(report)
    lines = [
        f"<!-- bench:{tag} -->",
        f"## {name}, {report.rows:,} purchases",
        "",
        f"`{report.command}`",
        "",
        *(f"- {key}: {value}" for key, value in report.machine.items()),
        "",
        markdown_table(report),
        "",
        "Checks: " + ("; ".join(report.checks) if report.checks else "all counts agree"),
        f"<!-- /bench:{tag} -->",
    ]
    return "\n".join(lines)


def _tag(report: Report) -> str:
    return f"{report.tag or report.db_kind}:{report.rows}"


def write_markdown(path: Path, report: Report) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else INTRO
    section = _section(report)
    tag = _tag(report)
    pattern = re.compile(rf"<!-- bench:{re.escape(tag)} -->.*?<!-- /bench:{re.escape(tag)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        marker = "\n<!-- analysis -->"
        position = text.find(marker)
        if position < 0:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        else:
            text = text[:position].rstrip("\n") + "\n\n" + section + "\n" + text[position:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
