"""`pledge serve` as a child process on a free loopback port, and waiting for it to answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pledge_serve(
    db_url: str,
    folder: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    notify_worker: bool = False,
) -> Iterator[str]:
    """`pledge serve ARGS` on ``db_url`` (no webhook worker, and no notification worker unless asked)
    until the block ends; yields its base URL."""
    port = free_port()
    log_path = folder / f"serve-{port}.log"  # one per server: a test may run several in one folder
    with log_path.open("wb") as log:  # a file, not a pipe nobody reads: the server can never block on it
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "pledge", "serve", "--port", str(port), "--no-webhook-worker"),
                *(() if notify_worker else ("--no-notify-worker",)),
                *args,
            ],
            cwd=folder,
            env={**os.environ, "PLEDGE_DATABASE_URL": db_url, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(url, server, log_path)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)
