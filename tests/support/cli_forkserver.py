"""`pledge` CLI calls as fresh processes, forked from a parent that has already imported Pledge.

The end-to-end tests run the CLI hundreds of times. Each ``python -m pledge`` process spends about
0.8 s importing before it does anything (more on a loaded CI runner); that import is the same in
every call, so the tests pay it once. A small server process imports the CLI, then forks one child
per call. The child is a real, separate process — its own pid, exit code, stdout and stderr, working
directory and environment, killable with SIGKILL — that runs the same ``main`` a fresh process
would. Start-up time itself is measured by the benchmarks and by the tests that still start
``python -m pledge`` from scratch (the README walk-through, the newcomer and crash drills).

``PLEDGE_TEST_CLI=spawn`` turns this off: every call is then a new interpreter.

Protocol (one Unix-socket connection per call): the client sends one JSON line (args, cwd, env)
with two file descriptors (stdout and stderr, temporary files); the server answers one JSON line
with the child's pid, then one with its exit code when it ends.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

SPAWN = os.environ.get("PLEDGE_TEST_CLI", "fork") == "spawn"
# The server is started with the width every test call uses, so Rich's consoles (made at import
# time) wrap output exactly as a fresh process given the same COLUMNS would.
SERVER_ENV_FIXED = {"COLUMNS": "200"}
_MAX_REQUEST_BYTES = 1 << 20
_READY = b"ready\n"


# ---------------------------------------------------------------------------------------- client
class _Server:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pledge-cli-"))
        self.path = str(self.folder / "fork.sock")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
        env.update(SERVER_ENV_FIXED)
        repo = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.cli_forkserver", self.path, str(os.getpid())],
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line == _READY, f"the CLI fork server did not start: {line!r}"
        atexit.register(self.close)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            self.folder.rmdir()


_server: _Server | None = None
_server_pid = 0


def _the_server() -> _Server:
    global _server, _server_pid
    if _server is None or _server_pid != os.getpid() or _server.proc.poll() is not None:
        _server, _server_pid = _Server(), os.getpid()
    return _server


class Forked:
    """A forked ``pledge`` call, with the part of ``subprocess.Popen``'s interface the tests use."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.args = ["pledge", *args]
        self.returncode: int | None = None
        # Closed by communicate(), as Popen closes its pipes.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._conn.connect(_the_server().path)
        request = json.dumps({"args": args, "cwd": str(cwd), "env": env}).encode() + b"\n"
        socket.send_fds(self._conn, [request], [self._out.fileno(), self._err.fileno()])
        self._received = b""
        pid = self._line(None)
        assert pid is not None
        self.pid = int(pid["pid"])

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._reap(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        outputs = []
        for file in (self._out, self._err):
            file.seek(0)
            outputs.append(_text(file.read()))
            file.close()
        self._conn.close()
        return outputs[0], outputs[1]

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _reap(self, timeout: float | None) -> bool:
        ended = self._line(timeout)
        if ended is not None:
            self.returncode = int(ended["exit"])
        return ended is not None

    def _line(self, timeout: float | None) -> dict[str, Any] | None:
        """The server's next reply, or None if none came within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._received:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self._conn], [], [], left)[0]:
                return None
            chunk = self._conn.recv(4096)
            assert chunk, f"the CLI fork server ended during {self.args}"
            self._received += chunk
        line, self._received = self._received.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply


Process = Forked | subprocess.Popen[str]


def start(args: list[str], *, cwd: Path, env: dict[str, str]) -> Process:
    """``python -m pledge *args`` started in ``cwd`` with exactly ``env``, stdout and stderr captured."""
    if SPAWN:
        return subprocess.Popen(
            [sys.executable, "-m", "pledge", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return Forked(args, cwd, env)


def run(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """``python -m pledge *args`` to its end: its exit code, stdout and stderr."""
    proc = start(args, cwd=cwd, env=env)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode is not None
    return subprocess.CompletedProcess(["pledge", *args], proc.returncode, stdout, stderr)


def _text(data: bytes) -> str:
    # As subprocess.run(text=True) does: the locale's encoding, universal newlines.
    return data.decode().replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------- server
def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become ``python -m pledge`` with the request's args, cwd and env."""
    code: int = 0
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in (null, *fds):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.argv = ["pledge", *request["args"]]
        from pledge.entrypoints.cli.commands import app

        app(args=list(request["args"]), prog_name="python -m pledge")
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:  # as the interpreter does with a message
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
    os._exit(code)


def serve(path: str, parent_pid: int) -> None:
    import pledge.entrypoints.cli.commands  # noqa: F401  (the import every child then shares)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    sys.stdout.buffer.write(_READY)
    sys.stdout.flush()
    while os.getppid() == parent_pid:  # ends with the test process that started it
        for key, _ in selector.select(timeout=1.0):
            if key.data is None:
                conn, _ = listener.accept()
                _start(conn, selector)
            else:  # a child's pidfd: it has ended
                conn, pid = key.data
                selector.unregister(key.fileobj)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                conn.close()


def _start(conn: socket.socket, selector: selectors.BaseSelector) -> None:
    message, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST_BYTES, 2)
    while not message.endswith(b"\n"):
        message += conn.recv(_MAX_REQUEST_BYTES)
    request = json.loads(message)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child keeps none of the server's sockets, pidfds or other calls
        for key in list(selector.get_map().values()):
            with contextlib.suppress(OSError):
                os.close(key.fd)
        for data in (key.data for key in selector.get_map().values() if key.data):
            data[0].close()
        conn.close()
        _child(request, fds)
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (conn, pid))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
