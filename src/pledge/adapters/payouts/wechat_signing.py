"""WeChat Pay API v3 signatures and callback decryption (platform-public-key mode).

* A request is signed with the merchant's RSA key over
  ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` (PKCS#1 v1.5, SHA-256) and
  sent as ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."``.
* A reply or a callback is signed by WeChat over ``TIMESTAMP\\nNONCE\\nBODY\\n``,
  given in ``Wechatpay-Timestamp``, ``-Nonce``, ``-Signature`` and ``-Serial``
  (the platform public key id). We check the serial, the signature and that the
  timestamp is within five minutes (a replayed reply is not an answer).
* A callback's ``resource`` is AEAD_AES_256_GCM with the APIv3 key.

Both sides live here so that the fake provider in the tests signs and checks
with the very same rules.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256

SCHEMA: Final = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_S: Final = 300


def sign(private_key: RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, PKCS1v15(), SHA256())).decode()


def verify(public_key: RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message, PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def request_message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def reply_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization(
    *, private_key: RSAPrivateKey, mchid: str, serial: str, method: str, path: str, body: bytes, now_s: int
) -> str:
    nonce = secrets.token_hex(16)
    timestamp = str(now_s)
    signature = sign(private_key, request_message(method, path, timestamp, nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an Authorization header; empty when it is not ours."""
    schema, _, params = header.partition(" ")
    if schema != SCHEMA:
        return {}
    fields: dict[str, str] = {}
    for item in params.split(","):
        key, sep, value = item.strip().partition("=")
        if sep and len(value) >= 2 and value[0] == value[-1] == '"':
            fields[key] = value[1:-1]
    return fields


def signed_headers(private_key: RSAPrivateKey, serial: str, body: bytes, now_s: int) -> dict[str, str]:
    """The headers WeChat puts on a reply or a callback (used by the fake provider)."""
    nonce = secrets.token_hex(16)
    timestamp = str(now_s)
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": sign(private_key, reply_message(timestamp, nonce, body)),
        "Wechatpay-Signature-Type": SCHEMA,
    }


def check_signed(
    public_key: RSAPublicKey, serial: str, headers: Mapping[str, str], body: bytes, now_s: int
) -> str:
    """Why a reply or callback cannot be trusted; empty when it can."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get("wechatpay-timestamp", "")
    nonce = lower.get("wechatpay-nonce", "")
    signature = lower.get("wechatpay-signature", "")
    if not (timestamp and nonce and signature):
        return "unsigned_reply"
    if lower.get("wechatpay-serial", "") != serial:
        return "unknown_signing_key"
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > MAX_SKEW_S:
        return "stale_signature"
    if not verify(public_key, reply_message(timestamp, nonce, body), signature):
        return "bad_signature"
    return ""


def encrypt_resource(apiv3_key: bytes, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """A callback resource as WeChat sends it (used by the fake provider)."""
    nonce = secrets.token_hex(6)  # 12 characters, used as bytes, as WeChat does
    ciphertext = AESGCM(apiv3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
        "original_type": "mch_payment",
    }


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, object]) -> bytes | None:
    """The plaintext of a callback resource; None when it does not decrypt."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        return None
    ciphertext, nonce = resource.get("ciphertext"), resource.get("nonce")
    associated = resource.get("associated_data") or ""
    if not isinstance(ciphertext, str) or not isinstance(nonce, str) or not isinstance(associated, str):
        return None
    try:
        return AESGCM(apiv3_key).decrypt(
            nonce.encode(), base64.b64decode(ciphertext, validate=True), associated.encode() or None
        )
    except (InvalidTag, ValueError):
        return None
