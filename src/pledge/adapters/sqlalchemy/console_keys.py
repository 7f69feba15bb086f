"""The console's one read of API keys: by id (a session holds the key id, never its secret)."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import Engine, select

from pledge.adapters.sqlalchemy.api_store import ApiKey
from pledge.adapters.sqlalchemy.api_tables import api_keys


class KeysById:
    def __init__(self, reader: Engine) -> None:
        self._reader = reader

    def __call__(self, key_id: str) -> ApiKey | None:
        with self._reader.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            return None
        return ApiKey(**{f.name: row._mapping[f.name] for f in fields(ApiKey)})
