"""A fake SMS gateway speaking the protocol of docs/sms-gateway.md, run as a real HTTP server.

It models what a mainland provider enforces, so the adapter is tested against the same refusals:
signed requests, an approved sign name and approved templates (the text is the provider's, the
request carries only values), promotional messages only 08:00-22:00 in the recipient's zone,
numbers that replied "T"/"STOP", per-number frequency limits (1 a minute, 5 an hour, 10 a day by
default, counted over accepted messages) and idempotency by message id (the first answer replayed,
another payload under the same id refused).

The clock is the test's: ``gateway.now_us`` (None means the real time).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from pledge.webhooks import SIGNATURE_HEADER, SignatureVerificationError, verify_signature
from tests.fakes.loopback import JsonHandler, serving

KEY_HEADER = "Pledge-Key"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
LIMITS = (
    ("rate_limited_per_minute", 60, 1),
    ("rate_limited_per_hour", 3600, 5),
    ("rate_limited_per_day", 86400, 10),
)


@dataclass
class Delivered:
    message_id: str
    phone: str
    text: str  # as the handset shows it: 【sign】 then the approved text with the values
    purpose: str
    at_us: int
    segments: int


@dataclass
class FakeSmsGateway:
    key_id: str = "test-key"
    secret: str = "test-secret"
    signs: set[str] = field(default_factory=lambda: {"Pledge"})
    templates: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (text, purpose)
    unsubscribed: set[str] = field(default_factory=set)
    limits: tuple[tuple[str, int, int], ...] = LIMITS
    now_us: int | None = None
    delivered: list[Delivered] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with 503 before handling any
    _answers: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def approve(self, code: str, text: str, purpose: str) -> None:
        self.templates[code] = (text, purpose)

    def clock_us(self) -> int:
        return self.now_us if self.now_us is not None else time.time_ns() // 1000

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:  # one number's counters and one id's answer change atomically
            if self.fail_next > 0:
                self.fail_next -= 1
                return _error(503, "unavailable", "try again")
            if headers.get(KEY_HEADER.lower()) != self.key_id:
                return _error(401, "unknown_key", "Pledge-Key is not a known key")
            try:
                verify_signature(body, headers.get(SIGNATURE_HEADER.lower(), ""), self.secret)
            except SignatureVerificationError as error:
                return _error(401, "bad_signature", str(error))
            try:
                request = json.loads(body)
                message_id = str(request["message_id"])
            except (ValueError, KeyError, TypeError):
                return _error(400, "invalid_request", "the body is not JSON with a message_id")
            digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
            earlier = self._answers.get(message_id)
            if earlier is not None:
                if earlier[0] != digest:
                    return _error(409, "idempotency_conflict", f"{message_id} was sent with another payload")
                return earlier[1], earlier[2]
            status, answer = self._accept(request)
            if status != 429 and status != 422 and status < 500:
                self._answers[message_id] = (digest, status, answer)  # a refusal to wait is not final
            return status, answer

    def _accept(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        phone, code, purpose = (
            request.get("phone", ""),
            request.get("template_code", ""),
            request.get("purpose"),
        )
        if not isinstance(phone, str) or not E164.match(phone):
            return _error(400, "invalid_phone", f"{phone!r} is not an E.164 number")
        if request.get("sign_name") not in self.signs:
            return _error(400, "sign_not_approved", f"sign {request.get('sign_name')!r} is not approved")
        if code not in self.templates:
            return _error(400, "template_not_approved", f"template {code!r} is not approved")
        text, approved_purpose = self.templates[code]
        if purpose != approved_purpose:
            return _error(400, "template_purpose_mismatch", f"{code} is approved as {approved_purpose}")
        params = request.get("params")
        wanted = set(PLACEHOLDER.findall(text))
        if not isinstance(params, dict) or set(params) != wanted:
            return _error(400, "template_params_mismatch", f"{code} takes {sorted(wanted)}")
        if phone in self.unsubscribed:
            return _error(403, "recipient_unsubscribed", f"{phone} replied to unsubscribe")
        now_us = self.clock_us()
        if purpose == "promotional":
            wait_s = _seconds_to_window(now_us, str(request.get("recipient_timezone") or "Asia/Shanghai"))
            if wait_s:
                return _error(422, "outside_promotional_window", "promotional SMS 08:00-22:00", wait_s)
        sent = [d.at_us for d in self.delivered if d.phone == phone]
        for limit_code, window_s, most in self.limits:
            recent = sorted(at for at in sent if at > now_us - window_s * 1_000_000)
            if len(recent) >= most:
                wait_s = -(-(recent[-most] + window_s * 1_000_000 - now_us) // 1_000_000)
                return _error(429, limit_code, f"at most {most} per {window_s} s to one number", wait_s)
        rendered = PLACEHOLDER.sub(lambda m: str(params[m[1]]), text)
        shown = f"【{request['sign_name']}】{rendered}"
        segments = _segments(shown)
        message_id = str(request["message_id"])
        self.delivered.append(Delivered(message_id, phone, shown, str(purpose), now_us, segments))
        return 200, {
            "message_id": message_id,
            "status": "accepted",
            "gateway_ref": f"gw-{len(self.delivered)}",
            "segments": segments,
        }


def _error(
    status: int, code: str, message: str, retry_after_s: int | None = None
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after_s is not None:
        error["retry_after_s"] = retry_after_s
    return status, {"error": error}


def _seconds_to_window(now_us: int, timezone: str) -> int:
    """0 inside 08:00-22:00 recipient-local, else the seconds until the next 08:00 there."""
    tz = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now_us // 1_000_000, tz)
    if 8 <= local.hour < 22:
        return 0
    day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
    opening = datetime.combine(day, dtime(8, 0), tzinfo=tz)
    return max(int(opening.timestamp()) - now_us // 1_000_000, 1)


def _segments(text: str) -> int:
    """70 characters a segment for Chinese (UCS-2), 160 for plain ASCII; 67/153 when concatenated."""
    single, multi = (160, 153) if text.isascii() else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


class _Handler(JsonHandler):
    def do_POST(self) -> None:
        body = self.body()
        gateway = self.server.provider  # type: ignore[attr-defined]  # loopback.Server carries it
        assert isinstance(gateway, FakeSmsGateway)
        if self.path != "/v1/sms":
            status, answer = _error(404, "unknown_url", self.path)
        else:
            status, answer = gateway.handle(body, {k.lower(): v for k, v in self.headers.items()})
        retry = answer.get("error", {}).get("retry_after_s")
        headers = {"Retry-After": str(retry)} if retry is not None else None
        self.reply(status, json.dumps(answer, ensure_ascii=False).encode(), headers)


def serve(gateway: FakeSmsGateway) -> Iterator[str]:
    """Run ``gateway`` on a free loopback port; yields its base URL."""
    with serving(_Handler, gateway) as url:
        yield url
