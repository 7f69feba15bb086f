"""A bearer key is remembered for the cache's bound and no longer (ADR 38); unknown secrets never."""

from __future__ import annotations

from dataclasses import replace

from pledge.adapters.sqlalchemy.api_keys import ApiKey
from pledge.entrypoints.web.key_cache import CachedKeys

KEY = ApiKey(
    key_id="key_1",
    name="app",
    scope="customer",
    account_id="A-1",
    prefix="pk_live_a",
    created_at_us=0,
    expires_at_us=None,
    revoked_at_us=None,
)


class Keys:
    def __init__(self) -> None:
        self.stored: dict[str, ApiKey] = {"pk_live_a": KEY}
        self.reads = 0

    def key_by_secret(self, secret: str) -> ApiKey | None:
        self.reads += 1
        return self.stored.get(secret)


def test_a_revocation_is_seen_once_the_bound_has_passed() -> None:
    now = [100.0]
    keys = Keys()
    cached = CachedKeys(keys, 5.0, monotonic=lambda: now[0])
    assert cached.key_by_secret("pk_live_a") == KEY
    keys.stored["pk_live_a"] = replace(KEY, revoked_at_us=1)
    now[0] += 4.9
    assert cached.key_by_secret("pk_live_a") == KEY and keys.reads == 1  # within the bound
    now[0] += 0.1
    found = cached.key_by_secret("pk_live_a")
    assert found is not None and found.revoked_at_us == 1 and keys.reads == 2


def test_an_unknown_secret_is_read_every_time() -> None:
    keys = Keys()
    cached = CachedKeys(keys, 5.0, monotonic=lambda: 0.0)
    assert cached.key_by_secret("pk_live_b") is None
    keys.stored["pk_live_b"] = KEY  # created just now: usable at once
    assert cached.key_by_secret("pk_live_b") == KEY


def test_no_cache_reads_every_time() -> None:
    keys = Keys()
    cached = CachedKeys(keys, 0.0, monotonic=lambda: 0.0)
    cached.key_by_secret("pk_live_a")
    cached.key_by_secret("pk_live_a")
    assert keys.reads == 2
