"""Shared pieces of the demo: numbered steps and the example files shipped with the package."""

from __future__ import annotations

from importlib import resources
from typing import Any

from rich.rule import Rule

from pledge.adapters.files.documents import load_yaml
from pledge.entrypoints.cli.options import out


def step(number: int | str, title: str, text: str) -> None:
    out.print()
    out.print(Rule(f"[bold]{number}. {title}[/]", align="left"))
    out.print(text, soft_wrap=True)


def example(name: str) -> dict[str, Any]:
    return load_yaml(resources.files("pledge.examples").joinpath(name).read_bytes(), name)
