"""Serve a request handler on 127.0.0.1 in a thread, for as long as a test needs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler hanging on purpose must not keep the test process alive
    provider: object


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], provider: object, server_class: type[Server] = Server
) -> Iterator[str]:
    """The base URL of ``handler`` served on a free loopback port; ``provider`` holds its state."""
    server = server_class(("127.0.0.1", 0), handler)
    server.provider = provider
    thread = threading.Thread(target=server.serve_forever, name=f"fake-{handler.__name__}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The status line and headers leave in one write and the body in another: with Nagle's algorithm
    # the body waits for the client's delayed ACK of the headers, about 40 ms per answer on loopback.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # the test output stays quiet
        return

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def drop(self) -> None:
        """Close the connection without a word: the request's fate is unknown to the client."""
        self.close_connection = True
        self.connection.shutdown(2)
