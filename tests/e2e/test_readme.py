"""The README's shell blocks, pasted into a fresh folder, work.

Every ```sh block of README.md is read at test time (the test keeps no copy of the commands) and its
commands run in order, each in bash, in one empty temporary folder, on SQLite (`pledge.db` there).
How each line is treated:

* A command is one line, or several joined by a trailing backslash; blank lines and comment lines
  are skipped, and comments after a command are bash's to ignore.
* A block preceded by the line ``<!-- readme-test: needs a server -->`` is skipped with that
  reason: its commands talk to `pledge serve` (curl) or run it in the foreground. A block preceded
  by ``<!-- readme-test: skip: REASON -->`` is skipped with REASON (a file only the reader has).
* A line starting with ``make`` is skipped: it builds this checkout, and the test runs the
  package under test instead.
* ``pledge`` is the package under test (a shim on PATH running ``python -m pledge``).
* ``pledge generate data --purchases N`` runs with a small N (``PURCHASES``), for speed.
* Shell variables carry over from one command to the next (``KEY=$(pledge keys create …
  --secret-only)`` then ``--key $KEY``): each command runs with ``set -a`` and the variables it
  leaves are passed to the next.
* Placeholders ``PREFIX_…`` (``gr_…``, ``sub_…``, ``job_…``: letters, an underscore, then the
  ellipsis ``…``) stand for an id the reader copies from what an earlier command printed. The
  test does the same: it replaces the placeholder with the first whole id starting with
  ``PREFIX_`` in the output of the most recent earlier command that printed one. Commands run
  with ``COLUMNS=80``, so an id that only a wide terminal shows whole fails here too.

A failure names the block (its line in README.md), the command as the README writes it, the
command as run, its exit code and its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SERVER_MARKER = "<!-- readme-test: needs a server -->"
SKIP_MARKER = re.compile(r"^<!-- readme-test: skip: (?P<reason>.+?) -->$")
PURCHASES = 2_000
PLACEHOLDER = re.compile(r"\b([a-z]+_)…")
GENERATE = re.compile(r"^(pledge generate data\b.*--purchases[ =])\d+")
# Variables bash sets by itself; every other exported variable a command leaves is carried over.
SHELL_OWN = {"_", "PWD", "OLDPWD", "SHLVL"}


@dataclass(frozen=True)
class Block:
    line: int  # where its fence opens in README.md
    commands: list[str]
    skip_reason: str | None


def readme_blocks(text: str) -> list[Block]:
    """Every ```sh block, its commands (continuations joined) and why it is skipped, if it is."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        opened = i
        skip = _skip_reason(lines[i - 1].strip()) if i else None
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        blocks.append(Block(opened + 1, _commands(body), skip))
        i += 1
    return blocks


def _skip_reason(marker: str) -> str | None:
    if marker == SERVER_MARKER:
        return "needs a server, as README.md marks it"
    found = SKIP_MARKER.match(marker)
    return f"{found['reason']}, as README.md marks it" if found else None


def _commands(body: list[str]) -> list[str]:
    commands: list[str] = []
    pending = ""
    for raw in body:
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command and not command.startswith("#"):
            commands.append(command)
    return commands


class Session:
    """One fresh folder, one SQLite database, the shell variables and every output so far."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        bin_dir = folder.parent / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "pledge"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pledge "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
        self.env.update({"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "80"})
        self.outputs: list[str] = []

    def resolve(self, command: str) -> str:
        """The command with each ``PREFIX_…`` replaced by the id the reader would copy."""

        def latest_id(match: re.Match[str]) -> str:
            prefix = match.group(1)
            pattern = re.compile(rf"\b{re.escape(prefix)}[A-Za-z0-9]+\b(?!…)")
            for output in reversed(self.outputs):
                found = pattern.search(output)
                if found:
                    return found.group(0)
            raise LookupError(f"no earlier command printed a whole {prefix} id to use for {prefix}…")

        command = GENERATE.sub(rf"\g<1>{PURCHASES}", command)
        return PLACEHOLDER.sub(latest_id, command)

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        env_file = self.folder.parent / "env"
        script = f'set -a\n{command}\nrc=$?\nenv -0 > "{env_file}"\nexit $rc\n'
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if env_file.exists():
            for entry in env_file.read_text(encoding="utf-8").split("\0"):
                name, sep, value = entry.partition("=")
                if sep and name not in SHELL_OWN:
                    self.env[name] = value
        self.outputs.append(done.stdout)
        return done


def test_the_readme_blocks_extract_as_written() -> None:
    """The extraction itself: skips, continuations and placeholders as the docstring says."""
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    runnable = [b for b in blocks if b.skip_reason is None]
    assert runnable and any(b.skip_reason for b in blocks)
    commands = [c for b in runnable for c in b.commands]
    assert any(c.startswith("pledge generate data") for c in commands)
    assert any(PLACEHOLDER.search(c) for c in commands)
    assert not any(c.endswith("\\") for b in blocks for c in b.commands)
    sample = readme_blocks("x\n```sh\n# note\npledge a \\\n  --b 1   # why\n\n```\n")
    assert sample == [Block(2, ["pledge a --b 1   # why"], None)]


def test_every_readme_sh_block_works_in_a_fresh_folder(tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    session = Session(folder)
    skipped: list[str] = []
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        for command in block.commands:
            if block.skip_reason or command.startswith("make "):
                reason = block.skip_reason or "builds this checkout (make)"
                skipped.append(f"README.md:{block.line}: {command} ({reason})")
                continue
            where = f"README.md block at line {block.line}, command: {command}"
            try:
                resolved = session.resolve(command)
            except LookupError as exc:
                pytest.fail(f"{where}\n{exc}")
            done = session.run(resolved)
            if done.returncode != 0:
                pytest.fail(
                    f"{where}\nran: {resolved}\nexit {done.returncode}\n"
                    f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
                )
    # Skips are reported, not silent: pytest -rA shows them with the test's output.
    print("skipped README commands:\n" + "\n".join(skipped))
