"""Signing and verifying Pledge webhooks (standard library only; receivers may copy this file).

Every delivery carries ``Pledge-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, f"{t}.{body}")`` over the exact bytes of the body.

A receiver should:

1. call :func:`verify_signature` on the *raw* body (before any JSON parsing),
   which also refuses timestamps further than ``tolerance_s`` from now, so a
   captured request cannot be replayed later;
2. remember the event ``id`` (``evt_…``) of every event it has processed and
   ignore repeats: delivery is at least once, and a replay inside the
   tolerance window would carry a valid signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Pledge-Signature"
SCHEME = "v1"


class SignatureVerificationError(ValueError):
    """The payload was not signed with this secret, or the timestamp is outside the tolerance."""


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else payload


def compute_signature(payload: bytes | str, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + _as_bytes(payload)
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The header value for ``payload`` signed now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={compute_signature(payload, secret, t)}"


def verify_signature(
    payload: bytes | str,
    header: str,
    secret: str,
    tolerance_s: int = 300,
    *,
    now: float | None = None,
) -> int:
    """Check a ``Pledge-Signature`` header; returns its timestamp or raises SignatureVerificationError.

    Several ``v1`` values are accepted (any one may match), so a sender can
    sign with an old and a new secret while a secret is being rotated.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureVerificationError("the t= value is not an integer") from None
        elif name == SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureVerificationError(f"header has no t= or no {SCHEME}= value")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureVerificationError(
            f"timestamp {timestamp} is more than {tolerance_s} s from now (possible replay)"
        )
    expected = compute_signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureVerificationError("no signature matches the payload and secret")
    return timestamp
