"""Waiting for a `pledge serve` child process to answer."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

# Generous: a loaded CI machine (two workers, PostgreSQL, a browser) starts a server slowly.
START_TIMEOUT_S = 180


def wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Return once ``url`` answers; fail with the server's log if it exits or never answers."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            httpx.get(f"{url}/openapi.json", timeout=5)
            return
        except httpx.TransportError:
            assert server.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "pledge serve did not start:\n" + log.read_text(
                errors="replace"
            )
            time.sleep(0.1)
