"""The scale benchmark runs end to end at a tiny size and reports every row (no timed assertions)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from benchmarks import engines, http
from benchmarks.report import STEPS, write_markdown
from benchmarks.run import main

# zen-engine is a dev/bench-only dependency: without it its row says so instead of a number.
OPTIONAL = {"per-row peer: zen-engine"}


def _check(report_rows: dict[str, object], out: Path, checks: list[str]) -> None:
    assert checks == []  # every count agrees: the floors and peers ran the same rule on the same rows
    text = out.read_text(encoding="utf-8")
    for step in STEPS:
        assert f"| {step} |" in text, step
        row = report_rows[step]
        assert row is not None, step
        if step in OPTIONAL and "not installed" in getattr(row, "note", ""):
            continue
        if step != "peak RSS (largest step)":
            assert getattr(row, "time", ""), f"{step}: no time"
        assert getattr(row, "rss_mib", None), f"{step}: no peak RSS"


# CI runs the benchmark at 100,000 rows on both databases, so it keeps working at a size where the
# bulk-load and streaming paths are the ones taken (no timed assertions: the numbers are reported).
ROWS = 100_000


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_benchmark_reports_every_row(db: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = "sqlite" if db == "sqlite" else str(request.getfixturevalue("postgres_url"))
    out = tmp_path / "benchmarks.md"
    report = main(["--rows", str(ROWS), "--db", url, "--out", str(out), "--workdir", str(tmp_path)])
    assert report.rows == ROWS
    assert set(report.table) == set(STEPS)
    _check(dict(report.table), out, report.checks)
    # Another size gets its own section; the same size replaces its own; text outside is kept.
    out.write_text(out.read_text(encoding="utf-8") + "\n<!-- analysis -->\nnotes\n", encoding="utf-8")
    write_markdown(out, replace(report, rows=2000))
    write_markdown(out, report)
    text = out.read_text(encoding="utf-8")
    assert text.count(f"<!-- bench:{report.db_kind}:{ROWS} -->") == 1
    assert text.index(f"<!-- bench:{report.db_kind}:2000 -->") < text.index("<!-- analysis -->")
    assert text.endswith("notes\n")


def test_engine_benchmark_reports_every_row(tmp_path: Path) -> None:
    """The selection-engine benchmark end to end at a tiny size: both sets agree (same checksum),
    and the three ways to grants issue the same grants (no timed assertions)."""
    out = tmp_path / "benchmarks.md"
    (report,) = engines.main(["--sizes", "20000", "--out", str(out), "--workdir", str(tmp_path)])
    assert report.checks == []
    text = out.read_text(encoding="utf-8")
    assert "## Selection engines, SQLite, 20,000 purchases" in text
    for step in engines.STEPS:
        assert f"| {step} |" in text, step
        row = report.table[step]
        assert row.rss_mib, f"{step}: no peak RSS"
        if step != "peak RSS (largest step)":
            assert row.seconds, f"{step}: no time"
    assert sum("fastest at this size" in report.table[way].note for way in engines.STEPS[-4:-1]) == 1


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_http_benchmark_reports_every_endpoint(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Pledge's server and the floor app under wrk at a tiny size: every endpoint answers without an
    error on both (no timed assertions). Skipped without wrk, unless CI requires it."""
    if shutil.which("wrk") is None:
        if os.environ.get("PLEDGE_REQUIRE_WRK") == "1":
            pytest.fail("PLEDGE_REQUIRE_WRK=1 but wrk is not installed (apt-get install wrk)")
        pytest.skip("wrk is not installed (apt-get install wrk); CI runs this")
    url = "sqlite" if db == "sqlite" else str(request.getfixturevalue("postgres_url"))
    out = tmp_path / "benchmarks.md"
    report = http.main(["--db", url, "--purchases", "3000", "--duration", "1", "--connections", "4",
                        "--out", str(out), "--workdir", str(tmp_path)])  # fmt: skip
    assert report.checks == []  # no errors from either server
    text = out.read_text(encoding="utf-8")
    for step in http.STEPS:
        assert f"| {step} |" in text, step
        assert (report.table[step].rows or 0) > 0, step
