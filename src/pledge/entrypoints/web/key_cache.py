"""API keys looked up by secret, remembered by each server process for a few seconds (ADR 38).

Every API request authenticates its bearer key; without this each one reads the key's row first.
A remembered key still has its expiry checked on every request (the key carries it); what waits
for the cache is a revocation made elsewhere (``pledge keys revoke``, another process): it is
refused at most ``ttl_s`` after it was made. Unknown secrets are not remembered, so a key is
usable as soon as it is created.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Final

from pledge.adapters.sqlalchemy.api_keys import ApiKey
from pledge.entrypoints.web import ports

KEY_CACHE_S: Final = 5.0


class CachedKeys:
    """``key_by_secret`` of ``keys``, each found key kept ``ttl_s`` seconds."""

    def __init__(
        self,
        keys: ports.ApiKeys,
        ttl_s: float = KEY_CACHE_S,
        *,
        max_keys: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys, self._ttl_s, self._max, self._monotonic = keys, ttl_s, max_keys, monotonic
        self._found: dict[bytes, tuple[float, ApiKey]] = {}  # by the secret's digest, never the secret
        self._lock = threading.Lock()

    def key_by_secret(self, secret: str) -> ApiKey | None:
        digest, now = hashlib.sha256(secret.encode("utf-8")).digest(), self._monotonic()
        with self._lock:
            hit = self._found.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = self._keys.key_by_secret(secret)
        if key is not None and self._ttl_s > 0:
            with self._lock:
                if len(self._found) >= self._max:
                    self._found.clear()  # bounded memory; the keys are read again
                self._found[digest] = (now + self._ttl_s, key)
        return key
