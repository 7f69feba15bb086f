"""``pledge examples``: the example campaign and plan files shipped inside the package.

They are read with :mod:`importlib.resources`, so they are there wherever pledge is installed
(a wheel, pipx, a checkout); ``examples write DIR`` puts copies where the README's commands
expect them.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from pledge.domain.errors import InputError
from pledge.entrypoints.cli.app import app
from pledge.entrypoints.cli.options import JsonOpt, emit, fail, out

PACKAGE = "pledge.examples"

examples = typer.Typer(
    help="The example campaign and plan files (list them, or write copies to a folder).",
    invoke_without_command=True,
)
app.add_typer(examples, name="examples")


def packaged_examples() -> list[Traversable]:
    """The shipped example files, by name."""
    files = [f for f in resources.files(PACKAGE).iterdir() if f.name.endswith(".yaml")]
    return sorted(files, key=lambda f: f.name)


def _description(text: str) -> str:
    """The first sentence of the file's leading comment: what it is an example of."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    comment = " ".join(lines)
    end = comment.find(". ")
    return comment if end < 0 else comment[: end + 1]


def list_examples() -> dict[str, Any]:
    return {
        "data": [
            {"name": f.name, "description": _description(f.read_text(encoding="utf-8"))}
            for f in packaged_examples()
        ]
    }


def write_examples(folder: Path, *, force: bool) -> dict[str, Any]:
    """Copy every example into ``folder``; refused before writing anything if one would be overwritten.

    A file already there with the same content is left alone, so writing twice changes nothing.
    """
    planned: list[tuple[Path, str]] = []
    unchanged: list[str] = []
    clashes: list[str] = []
    for source in packaged_examples():
        target = folder / source.name
        text = source.read_text(encoding="utf-8")
        if target.is_dir():
            raise InputError(f"{target}: is a folder, not a file", param="dir")
        if target.exists() and target.read_text(encoding="utf-8") == text:
            unchanged.append(str(target))
            continue
        if target.exists() and not force:
            clashes.append(str(target))
        planned.append((target, text))
    if clashes:
        raise InputError(
            f"{', '.join(clashes)}: already there with other content; not overwritten (use --force)",
            param="dir",
            code="file_exists",
        )
    folder.mkdir(parents=True, exist_ok=True)
    for target, text in planned:
        target.write_text(text, encoding="utf-8")
    return {"dir": str(folder), "written": [str(t) for t, _ in planned], "unchanged": unchanged}


@examples.callback()
def examples_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the example files shipped with pledge."""
    if ctx.invoked_subcommand is not None:
        return

    def human(r: dict[str, Any]) -> None:
        for item in r["data"]:
            out.print(f"{item['name']:<28} {escape(item['description'])}")
        out.print("write them to a folder with: pledge examples write examples")

    emit(list_examples(), as_json, human)


@examples.command("write")
def examples_write(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write the files into.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that differ.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the example files into DIR (created if missing); never overwrites without --force."""
    try:
        result = write_examples(folder, force=force)
    except Exception as exc:
        fail(exc)

    def human(r: dict[str, Any]) -> None:
        for path in r["written"]:
            out.print(f"wrote {escape(path)}")
        if r["unchanged"]:
            out.print(f"{len(r['unchanged'])} already there, unchanged")

    emit(result, as_json, human)
