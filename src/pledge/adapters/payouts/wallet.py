"""The wallet rail: a credit to the company's own account wallet (CONTRACT.md, "Rails").

``POST {url}/credits`` with a JSON body and ``X-Pledge-Timestamp`` /
``X-Pledge-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``.
The same ``credit_id`` again returns the first result, so a retry is always
the same request, byte for byte in meaning. What the replies mean:

* 200/201 with our ``credit_id`` and ``status: credited``: succeeded.
* 409: the id exists with another payload. Never resend other parameters under
  it and never mint a new id on that ground: ``unknown`` (``id_conflict``), for a
  person.
* any other 4xx: a permanent failure, with the wallet's ``error.code``.
* 5xx, no answer, a reply we cannot read: ``unknown``; ask with
  ``GET {url}/credits/{credit_id}`` (200 the credit, 404 never applied).

The query is signed the same way (over an empty body), so the wallet can tell
who asks about its credits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

import httpx

from pledge.adapters.payouts.config import WalletConfig
from pledge.domain.money import format_minor
from pledge.domain.payout_transfers import Outcome, ProviderAnswer
from pledge.domain.payouts import WALLET
from pledge.usecases.payout_ports import TransferRequest

DEFAULT_TIMEOUT_S: Final = 10.0


def wallet_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def credit_body(request: TransferRequest) -> dict[str, str]:
    return {
        "credit_id": request.request_id,
        "account_id": request.payee,
        "amount": format_minor(request.amount_minor, request.currency),
        "currency": request.currency,
        "memo": request.memo,
    }


def _unknown(reason: str, detail: str = "") -> ProviderAnswer:
    return ProviderAnswer(Outcome.UNKNOWN, reason=reason, detail=detail[:500])


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        parsed = response.json()
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class WalletRail:
    def __init__(
        self,
        config: WalletConfig,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client = client or httpx.Client(timeout=timeout_s)
        self._clock = clock

    @property
    def name(self) -> str:
        return WALLET

    @property
    def config(self) -> WalletConfig:
        return self._config

    def close(self) -> None:
        self._client.close()

    def _headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(self._clock()))
        return {
            "Content-Type": "application/json",
            "X-Pledge-Timestamp": timestamp,
            "X-Pledge-Signature": wallet_signature(self._config.secret, timestamp, body),
        }

    def send(self, request: TransferRequest) -> ProviderAnswer:
        body = json.dumps(credit_body(request), ensure_ascii=False, separators=(",", ":")).encode()
        try:
            response = self._client.post(
                f"{self._config.url}/credits", content=body, headers=self._headers(body)
            )
        except httpx.TimeoutException as exc:
            return _unknown("timeout", str(exc))
        except httpx.TransportError as exc:
            return _unknown("no_answer", str(exc))
        status = response.status_code
        if status in (200, 201):
            return self._read_credit(request, response)
        if status == 409:
            return _unknown("id_conflict", response.text)
        if 400 <= status < 500:
            error = (_json(response) or {}).get("error")
            if not isinstance(error, dict) or not isinstance(error.get("code"), str):
                return _unknown(f"http_{status}_unreadable", response.text)
            return ProviderAnswer(Outcome.FAILED, reason=error["code"], detail=str(error.get("message", "")))
        return _unknown(f"http_{status}", response.text)

    def query(self, request: TransferRequest) -> ProviderAnswer:
        url = f"{self._config.url}/credits/{quote(request.request_id, safe='')}"
        try:
            response = self._client.get(url, headers=self._headers(b""))
        except httpx.TimeoutException as exc:
            return _unknown("timeout", str(exc))
        except httpx.TransportError as exc:
            return _unknown("no_answer", str(exc))
        if response.status_code == 404:
            return ProviderAnswer(Outcome.NOT_FOUND)
        if response.status_code == 200:
            return self._read_credit(request, response, compare_payload=True)
        return _unknown(f"http_{response.status_code}", response.text)

    def _read_credit(
        self, request: TransferRequest, response: httpx.Response, *, compare_payload: bool = False
    ) -> ProviderAnswer:
        credit = _json(response)
        if credit is None or credit.get("credit_id") != request.request_id:
            return _unknown("unreadable_reply", response.text)
        if compare_payload:
            expected = credit_body(request)
            differing = [
                key for key in ("account_id", "amount", "currency") if credit.get(key) != expected[key]
            ]
            if differing:
                return _unknown("id_conflict", f"the wallet holds other {', '.join(differing)} under this id")
        if credit.get("status") != "credited":
            return _unknown("unknown_status", str(credit.get("status")))
        return ProviderAnswer(Outcome.SUCCEEDED, provider_ref=str(credit.get("credit_id")))
