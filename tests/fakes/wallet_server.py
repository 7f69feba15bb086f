"""The account wallet's side of the wallet rail (CONTRACT.md, "Rails"), with faults to inject.

Faults are consumed one per request, in order (``post_faults`` for credits,
``query_faults`` for look-ups):

* ``503``: answer 503 without applying.
* ``apply_then_503``: apply the credit, then answer 503.
* ``apply_then_hang``: apply, then say nothing for ``hang_s`` (past the client's timeout).
* ``apply_then_drop``: apply, then close the connection without an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pledge.domain.money import parse_minor
from tests.fakes.loopback import JsonHandler, Server

MAX_SKEW_S = 300


@dataclass
class WalletProvider:
    secret: bytes
    max_per_account_day: int | None = None  # minor units; a fake lives within one day
    hang_s: float = 2.0
    post_faults: list[str] = field(default_factory=list)
    query_faults: list[str] = field(default_factory=list)
    credits: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)  # how often each credit_id moved money
    bad_signatures: int = 0
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of every request, as it came
    lock: threading.Lock = field(default_factory=threading.Lock)

    def balance_minor(self, account_id: str) -> int:
        return sum(
            parse_minor(c["amount"], c["currency"])
            for c in self.credits.values()
            if c["account_id"] == account_id
        )

    def signature_ok(self, timestamp: str, signature: str, body: bytes) -> bool:
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_S:
            return False
        expected = "v1=" + hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class WalletHandler(JsonHandler):
    @property
    def provider(self) -> WalletProvider:
        assert isinstance(self.server, Server)
        provider = self.server.provider
        assert isinstance(provider, WalletProvider)
        return provider

    def _signed(self, body: bytes) -> bool:
        ok = self.provider.signature_ok(
            self.headers.get("X-Pledge-Timestamp", ""), self.headers.get("X-Pledge-Signature", ""), body
        )
        if not ok:
            self.provider.bad_signatures += 1
            self.reply(401, _error("bad_signature", "the signature does not match"))
        return ok

    def do_POST(self) -> None:
        self.provider.arrivals.append(time.monotonic())
        body = self.body()
        if self.path != "/credits" or not self._signed(body):
            if self.path != "/credits":
                self.reply(404, _error("not_found", self.path))
            return
        provider = self.provider
        fault = provider.post_faults.pop(0) if provider.post_faults else ""
        if fault == "503":
            self.reply(503, b'{"error": {"code": "unavailable", "message": "try later"}}')
            return
        try:
            credit = json.loads(body)
            wanted = {k: credit[k] for k in ("credit_id", "account_id", "amount", "currency", "memo")}
            amount_minor = parse_minor(str(wanted["amount"]), str(wanted["currency"]))
        except (ValueError, KeyError, TypeError) as exc:
            self.reply(400, _error("invalid_request", str(exc)))
            return
        status, payload = self._apply(wanted, amount_minor)
        if fault == "apply_then_503":
            self.reply(503, _error("unavailable", "try later"))
        elif fault == "apply_then_hang":
            time.sleep(provider.hang_s)
            self.drop()
        elif fault == "apply_then_drop":
            self.drop()
        else:
            self.reply(status, payload)

    def _apply(self, wanted: dict[str, Any], amount_minor: int) -> tuple[int, bytes]:
        provider = self.provider
        with provider.lock:
            existing = provider.credits.get(wanted["credit_id"])
            if existing is not None:
                if {k: existing[k] for k in wanted} != wanted:
                    return 409, _error("credit_id_conflict", "this credit_id was used with another payload")
                return 200, json.dumps(existing).encode()
            cap = provider.max_per_account_day
            if cap is not None and provider.balance_minor(wanted["account_id"]) + amount_minor > cap:
                return 422, _error("daily_limit_exceeded", "the account may not receive more today")
            record = {**wanted, "status": "credited"}
            provider.credits[wanted["credit_id"]] = record
            provider.applied[wanted["credit_id"]] += 1
            return 201, json.dumps(record).encode()

    def do_GET(self) -> None:
        self.provider.arrivals.append(time.monotonic())
        if not self.path.startswith("/credits/") or not self._signed(b""):
            if not self.path.startswith("/credits/"):
                self.reply(404, _error("not_found", self.path))
            return
        if self.provider.query_faults and self.provider.query_faults.pop(0) == "503":
            self.reply(503, _error("unavailable", "try later"))
            return
        credit = self.provider.credits.get(self.path.removeprefix("/credits/"))
        if credit is None:
            self.reply(404, _error("not_found", "no such credit"))
        else:
            self.reply(200, json.dumps(credit).encode())
