"""A sandbox wallet on loopback that speaks the wallet protocol (CONTRACT.md "Rails") and credits in
memory: for ``pledge demo`` and for trying payouts without a provider. It checks the signature,
credits each ``credit_id`` once (the same id again answers the first result; with another payload,
409), and forgets everything when it stops. It is not a wallet to pay anyone with.
"""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar

from pledge.adapters.payouts.wallet import wallet_signature

MAX_BODY_BYTES = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    wallet: ClassVar[SandboxWallet]

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the demo prints what matters

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != "/credits" or not 0 < length <= MAX_BODY_BYTES:
            self._answer(400, {"error": {"code": "bad_request", "message": "POST /credits with a body"}})
            return
        body = self.rfile.read(length)
        expected = wallet_signature(self.wallet.secret, self.headers.get("X-Pledge-Timestamp", ""), body)
        if not hmac.compare_digest(expected, self.headers.get("X-Pledge-Signature", "")):
            self._answer(401, {"error": {"code": "bad_signature", "message": "not signed with the secret"}})
            return
        credit = json.loads(body)
        status, answer = self.wallet.credit(credit)
        self._answer(status, answer)

    def do_GET(self) -> None:
        credit_id = self.path.removeprefix("/credits/")
        found = self.wallet.credits.get(credit_id)
        if found is None:
            self._answer(404, {"error": {"code": "not_found", "message": "no such credit"}})
        else:
            self._answer(200, {"credit_id": credit_id, "status": "credited", **found})


class SandboxWallet:
    """``with SandboxWallet(secret) as url:`` a wallet listening on ``url`` until the block ends."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.credits: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        handler = type("SandboxHandler", (_Handler,), {"wallet": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def credit(self, credit: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            first = self.credits.get(str(credit.get("credit_id")))
            if first is None:
                self.credits[str(credit.get("credit_id"))] = credit
                return 201, {"credit_id": credit.get("credit_id"), "status": "credited"}
            if first != credit:
                return 409, {"error": {"code": "conflict", "message": "this credit_id had another payload"}}
            return 200, {"credit_id": credit.get("credit_id"), "status": "credited"}

    def __enter__(self) -> str:
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
