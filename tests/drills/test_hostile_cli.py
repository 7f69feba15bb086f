"""Hostile files through the real CLI: the API's hostile-input corpus as campaign and plan files, and the
hostile CSV files as imports, each given to a `python -m pledge` process → exit 2 with an error naming
the problem, well within a hang guard, and not one row written in any table.

At full scale every input goes through every command that reads its kind of file; the bounded subset
sends each input through one of them, in turn.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, table

from tests.drills.conftest import FULL, db_name, figure
from tests.e2e.test_cli import Pledge
from tests.integration.test_hostile_inputs import CORPUS, FILES

# A hang guard, not a speed target: an expanded bomb never ends, a refusal takes interpreter start-up
# plus milliseconds: a few seconds, tens on an oversubscribed two-core runner (see the control's time).
HANG_GUARD_S = 60.0


def counts(db_url: str) -> dict[str, int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            return {n: int(conn.scalar(select(func.count()).select_from(table(n))) or 0) for n in names}
    finally:
        engine.dispose()


def cases(folder: Path, admin_key: str) -> list[tuple[str, list[str]]]:
    yaml_commands = [
        ("campaign apply", ["campaign", "apply", "{file}", "--key", admin_key]),
        ("plans apply", ["plans", "apply", "{file}", "--actor", "ops"]),
    ]
    csv_commands = [("import purchases", ["import", "purchases", "{file}"]),
                    ("import accounts", ["import", "accounts", "{file}"])]  # fmt: skip
    found: list[tuple[str, list[str]]] = []
    inputs = [(name, body, yaml_commands) for name, body, _ in CORPUS]
    inputs += [(name, body, csv_commands) for name, body in FILES]
    for n, (name, body, commands) in enumerate(inputs):
        path = folder / f"hostile-{n}{'.csv' if commands is csv_commands else '.yaml'}"
        path.write_bytes(body)
        for label, args in commands if FULL else [commands[n % len(commands)]]:
            found.append((f"{label} <{name}>", [a.replace("{file}", str(path)) for a in args]))
    return found


def refuse(cli: Pledge, args: list[str], guard_s: float = HANG_GUARD_S) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PLEDGE_API_KEY"}
    env["PLEDGE_DATABASE_URL"] = cli.db_url
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pledge", *args],
            cwd=cli.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=guard_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, "hung", time.monotonic() - started
    return done.returncode, done.stderr.strip(), time.monotonic() - started


def test_hostile_files_through_the_cli_exit_2_and_write_nothing(db_url: str, tmp_path: Path) -> None:
    cli = Pledge(db_url, tmp_path)
    cli.run("init")
    admin = cli.key("admin", "ops")
    before = counts(db_url)
    todo = cases(tmp_path, admin)
    control = refuse(cli, ["ledger", "verify"])  # start-up and one small read: the floor of every case
    assert control[0] == 0, control
    guard_s = max(HANG_GUARD_S, 5 * control[2])  # the floor, times five: a hang, not a slow machine
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: (case[0], *refuse(cli, case[1], guard_s)), todo))
    after = counts(db_url)
    wrong = [
        (label, code, err[:200])
        for label, code, err, _ in results
        if code != 2 or not err.startswith("error")
    ]
    slowest = max(results, key=lambda r: r[3])
    median = sorted(r[3] for r in results)[len(results) // 2]
    figure(
        f"hostile files via CLI [{db_name(db_url)}]: {len(results)} processes "
        f"({len(CORPUS)} documents, {len(FILES)} CSV files), exit 2 for {sum(r[1] == 2 for r in results)}, "
        f"median {median:.2f}s, slowest {slowest[3]:.2f}s ({slowest[0]}), start-up included "
        f"(control `ledger verify`: {control[2]:.2f}s), "
        f"{'nothing written' if after == before else 'ROWS WRITTEN'}"
    )
    assert wrong == []
    assert after == before
