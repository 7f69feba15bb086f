"""Entry point: the app with every command group registered."""

from __future__ import annotations

from pledge.entrypoints.cli import billing, corrections, engines, examples, extra, payouts, server
from pledge.entrypoints.cli.app import app

__all__ = ["billing", "corrections", "engines", "examples", "extra", "main", "payouts", "server"]


def main() -> None:
    app()
