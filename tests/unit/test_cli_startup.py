"""`pledge --help` answers from a table, without importing any command (ADR 33): the help it prints
is the whole CLI's, to the byte, and it leaves the heavy libraries unimported. No timing here: the
start-up time is measured by the benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pledge.entrypoints.cli.main import COMMANDS, ROOT_HELP

FULL = "import sys; from pledge.entrypoints.cli.commands import app; sys.argv[0] = 'pledge'; app()"
LAZY = "import sys; from pledge.entrypoints.cli.main import main; sys.argv[0] = 'pledge'; main()"
HEAVY = ("sqlalchemy", "pyarrow", "duckdb", "fastapi", "pyspark", "jinja2", "PIL", "pledge.bootstrap",
         "pledge.adapters", "pledge.usecases", "pledge.entrypoints.cli.commands")  # fmt: skip


def _run(code: str, *args: str, columns: int = 100) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize("columns", [80, 132])
@pytest.mark.parametrize("args", [(), ("--help",)])
def test_the_root_help_is_the_whole_clis_to_the_byte(args: tuple[str, ...], columns: int) -> None:
    full, lazy = _run(FULL, *args, columns=columns), _run(LAZY, *args, columns=columns)
    assert (lazy.returncode, lazy.stdout, lazy.stderr) == (full.returncode, full.stdout, full.stderr)
    assert "campaign" in lazy.stdout + lazy.stderr


def test_the_table_names_every_command_of_the_whole_cli() -> None:
    import typer
    from typer._click.core import Context
    from typer.core import TyperGroup

    from pledge.entrypoints.cli.commands import app

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    ctx = Context(root, info_name="pledge")
    commands = [(name, root.get_command(ctx, name)) for name in root.list_commands(ctx)]
    whole = [(name, command.help or "") for name, command in commands if command is not None]
    assert list(COMMANDS) == whole, "add the new command's name and help to cli/main.py COMMANDS"
    assert root.help == ROOT_HELP


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "from pledge.entrypoints.cli.main import main\n"
        "sys.argv = ['pledge', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = _run(code)
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []
    assert "Pledge keeps a company's promises" in done.stdout


def test_a_command_still_runs_the_whole_cli() -> None:
    done = _run(LAZY, "examples", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
