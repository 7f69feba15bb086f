"""What a newcomer meets outside the checkout: the packaged examples, and the demo on a narrow terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

EXAMPLES = sorted(f.name for f in resources.files("pledge.examples").iterdir() if f.name.endswith(".yaml"))


def pledge(cwd: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "pledge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_examples_are_listed_and_written_outside_the_checkout(tmp_path: Path) -> None:
    assert "founders-refund.yaml" in EXAMPLES and "cloud-plans.yaml" in EXAMPLES
    listed = pledge(tmp_path, "examples", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)["data"]
    assert [e["name"] for e in data] == EXAMPLES
    assert all(e["description"] for e in data)

    written = pledge(tmp_path, "examples", "write", "examples", "--json")
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout)["written"] == [f"examples/{name}" for name in EXAMPLES]
    for name in EXAMPLES:
        shipped = resources.files("pledge.examples").joinpath(name).read_text(encoding="utf-8")
        assert (tmp_path / "examples" / name).read_text(encoding="utf-8") == shipped
    again = json.loads(pledge(tmp_path, "examples", "write", "examples", "--json").stdout)
    assert (again["written"], len(again["unchanged"])) == ([], len(EXAMPLES))  # same content: unchanged

    edited = tmp_path / "examples" / "cloud-plans.yaml"
    edited.write_text("# mine\n", encoding="utf-8")
    refused = pledge(tmp_path, "examples", "write", "examples")
    assert refused.returncode == 2
    assert "cloud-plans.yaml" in refused.stderr and "--force" in refused.stderr
    assert edited.read_text(encoding="utf-8") == "# mine\n"  # nothing overwritten
    forced = pledge(tmp_path, "examples", "write", "examples", "--force")
    assert forced.returncode == 0, forced.stderr
    assert edited.read_text(encoding="utf-8").startswith("# Scenario B catalog")

    # The written file is one the README's commands use.
    assert pledge(tmp_path, "init").returncode == 0
    applied = pledge(tmp_path, "plans", "apply", "examples/cloud-plans.yaml", "--json")
    assert applied.returncode == 0, applied.stderr


def test_the_demo_prints_every_key_whole_on_an_80_column_terminal(tmp_path: Path) -> None:
    done = pledge(tmp_path, "demo", columns=80)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    keys = re.findall(r"pk_live_[A-Za-z0-9_-]+", done.stdout)
    assert len(set(keys)) == 6, done.stdout[-2000:]  # one per person
    for key in keys:
        assert len(key) > 40, key  # whole, not cut at the terminal's edge
        assert any(line.strip() == key for line in lines), f"{key} is not whole on a line of its own"
    assert "pk_live_…" not in done.stdout and not re.search(r"pk_live_[A-Za-z0-9_-]*…", done.stdout)
    # Subscription ids in the demo's compensation table are whole too.
    assert not re.search(r"sub_[0-9a-f]*…", done.stdout)
    assert re.search(r"sub_[0-9a-f]{24}\b", done.stdout)
    # Every holder is told once, whatever delivery does twice, and reminded a week before expiry.
    told = re.search(r"delivered after the hold: ([\d,]+) sent; delivering again: 0 sent", done.stdout)
    reminded = re.search(r"reminders queued and sent: ([\d,]+)", done.stdout)
    assert told and reminded and int(told.group(1).replace(",", "")) > 0, done.stdout[-3000:]
    assert "demo-last-second reads on /me" in done.stdout
    # The opened envelope is paid once through the sandbox wallet; on WeChat it would take two days.
    assert "run: 1 transfer(s) succeeded; run again: 0 sent" in done.stdout
    assert "5 transfers, 199.90 + 199.90 + 199.90 + 199.90 + 199.90" in done.stdout
    assert "ledger ok" in done.stdout


def test_a_reader_that_goes_away_gets_no_error_line(tmp_path: Path) -> None:
    """`pledge … | head` must not end in "error [internal]: BrokenPipeError" on the terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the command writes a byte
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pledge", "init", "--json"],
            cwd=tmp_path,
            env=env,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        os.close(writer)
    assert done.returncode == 1
    assert done.stderr == ""
