"""The whole command line: the app with every command and group registered (importing it imports
every command's module). ``pledge`` itself starts from :mod:`pledge.entrypoints.cli.main`."""

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
    "app",
    "billing",
    "claims",
    "corrections",
    "data_import",
    "engines",
    "examples",
    "extra",
    "notify",
    "payouts",
    "server",
]
