"""Options every command shares, and the one way commands run and report."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pledge.bootstrap import App
from pledge.domain.errors import InputError, PledgeError
from pledge.domain.timeutil import parse_instant
from pledge.entrypoints.presenters import json_view

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $PLEDGE_DATABASE_URL or sqlite:///pledge.db in the working directory).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
NowOpt = Annotated[
    str | None, typer.Option("--now", help="Current instant, ISO 8601 with offset (default: the clock).")
]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who acts (default: the OS user).")]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def actor_name(actor: str | None) -> str:
    if actor:
        return actor.strip()
    try:
        return os.environ.get("PLEDGE_ACTOR") or getpass.getuser()
    except Exception:
        return "unknown"


def fail(exc: BaseException) -> NoReturn:
    """One line on stderr naming the thing and the reason; exit 2 for bad input, 1 otherwise.

    Naming something that does not exist (an account, a campaign, a grant) stays exit 1, as scripts
    have relied on since the first release; the error's code (``account_not_found``, …) says which.
    """
    if isinstance(exc, PledgeError):
        code = EXIT_USAGE if isinstance(exc, InputError) else EXIT_FAILED
        message = exc.message.replace("\n", " | ")
        err.print(f"error [{exc.code}]: {message}", markup=False, soft_wrap=True)
        raise typer.Exit(code)
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`pledge … | head`): no traceback, no error line, as Python's docs
        # advise: point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(EXIT_FAILED)
    # One line, always: scripts parse stderr; a driver's multi-line SQL dump helps nobody there.
    detail = " ".join(str(exc).split())[:500]
    err.print(f"error [internal]: {type(exc).__name__}: {detail}", markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_FAILED)


@contextmanager
def app_for(db: str | None, now: str | None = None, *, require_schema: bool = True) -> Iterator[App]:
    try:
        now_us = parse_instant(now, param="--now") if now else None
        app = App(db, now_us)
    except Exception as exc:
        fail(exc)
    try:
        if require_schema:
            app.require_schema()
        yield app
    except typer.Exit:
        raise
    except Exception as exc:
        fail(exc)
    finally:
        app.close()


def emit(result: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``result`` as JSON or through ``human``; a typed result goes through its presenter first."""
    result = json_view(result)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=None) + "\n")
    elif human is not None:
        human(result)
    else:
        out.print_json(data=result)


@contextmanager
def counting(label: str, unit: str, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A live count for long work of unknown size; yields the progress callback use cases take."""
    columns = (TextColumn(label), BarColumn(), TextColumn(f"{{task.completed:,}} {unit}"))
    with Progress(*columns, transient=True, disable=quiet) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.update(task, completed=n)


@contextmanager
def measuring(label: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr for long work of known size: ``(done, total)``. Only on a terminal, so
    ``--json`` output and scripts reading stderr see nothing of it."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextmanager
def staged(first: str) -> Iterator[Callable[[str], None]]:
    """A status line on stderr naming the stage under way (only on a terminal, like ``measuring``)."""
    if not err.is_terminal:
        yield lambda _: None
        return
    with err.status(first) as status:
        yield status.update
