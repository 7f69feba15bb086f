"""Entry point: the app with every command group registered."""

from __future__ import annotations

from pledge.entrypoints.cli import extra
from pledge.entrypoints.cli.app import app

__all__ = ["extra", "main"]


def main() -> None:
    app()
