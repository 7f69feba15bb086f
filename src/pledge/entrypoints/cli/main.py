"""Entry point: the app with every command group registered."""

from __future__ import annotations

from pledge.entrypoints.cli import (
    billing,
    claims,
    corrections,
    data_import,
    engines,
    examples,
    extra,
    notify,
    payouts,
    server,
)
from pledge.entrypoints.cli.app import app

__all__ = [
    "billing",
    "claims",
    "corrections",
    "data_import",
    "engines",
    "examples",
    "extra",
    "main",
    "notify",
    "payouts",
    "server",
]


def main() -> None:
    app()
