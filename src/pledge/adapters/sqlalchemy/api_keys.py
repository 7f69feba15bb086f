"""API keys: a person's key with a scope; only the secret's hash is stored, so a secret is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from pledge.adapters.sqlalchemy.api_tables import api_keys
from pledge.adapters.sqlalchemy.audit_log import CallAudit, append_audit
from pledge.adapters.sqlalchemy.engines import reader_engine
from pledge.domain.persons import check_person_name, key_actor
from pledge.domain.timeutil import format_instant

SCOPES = ("admin", "approver", "operator", "support", "finance", "customer")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# Built once: a statement built per request costs more Python than its execution on SQLite.
_BY_SECRET = select(api_keys).where(api_keys.c.secret_hash == bindparam("secret_hash"))


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scope: str
    account_id: str | None
    prefix: str
    created_at_us: int
    expires_at_us: int | None
    revoked_at_us: int | None

    def usable(self, now_us: int) -> bool:
        return self.refusal(now_us) is None

    def refusal(self, now_us: int) -> tuple[str, str] | None:
        """(code, message) if the key may not be used now: revoked or expired."""
        if self.revoked_at_us is not None:
            return "api_key_revoked", f"API key {self.key_id} was revoked"
        if self.expires_at_us is not None and now_us >= self.expires_at_us:
            return "api_key_expired", f"API key {self.key_id} has expired"
        return None

    @property
    def actor(self) -> str:
        """Who a key acts as: its person (the name) and which key. Four-eyes compares the persons."""
        return key_actor(self.name, self.key_id)

    def state(self) -> dict[str, Any]:
        """The key as ``pledge keys list`` and its audit entries show it (never its secret)."""
        return {
            "object": "api_key",
            "id": self.key_id,
            "name": self.name,
            "scope": self.scope,
            "account_id": self.account_id,
            "prefix": self.prefix,
            "created_at": format_instant(self.created_at_us),
            "expires_at": None if self.expires_at_us is None else format_instant(self.expires_at_us),
            "revoked_at": None if self.revoked_at_us is None else format_instant(self.revoked_at_us),
        }


def _key(row: Any) -> ApiKey:
    return ApiKey(**{f.name: row._mapping[f.name] for f in fields(ApiKey)})


class SqlApiKeys:
    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        self.engine = engine
        self.reader = reader or reader_engine(engine)

    def create_key(
        self,
        *,
        scope: str,
        name: str,
        account_id: str | None,
        expires_at_us: int | None,
        now_us: int,
        audit: CallAudit | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; only the secret's hash is stored, so it is shown once.

        ``name`` is the person the key belongs to: every key of one person counts as that person.
        ``audit``: its entry is written in the same transaction (subject ``api_key:<id>``).
        """
        name = check_person_name(name)
        secret = f"pk_live_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            f"key_{secrets.token_hex(12)}", name, scope, account_id, secret[:12], now_us, expires_at_us, None
        )
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    key_id=key.key_id,
                    name=name,
                    scope=scope,
                    account_id=account_id,
                    secret_hash=secret_hash(secret),
                    prefix=key.prefix,
                    created_at_us=now_us,
                    expires_at_us=expires_at_us,
                )
            )
            _audit_key(conn, audit, key.key_id, {}, key.state(), now_us)
        return key, secret

    def key_by_secret(self, secret: str) -> ApiKey | None:
        # One statement on every API request: outside a transaction it is one round trip to
        # PostgreSQL, not three (BEGIN, the read, ROLLBACK); it reads the same committed row.
        with self.reader.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(_BY_SECRET, {"secret_hash": secret_hash(secret)}).first()
        return _key(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        with self.reader.connect() as conn:
            return [_key(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_at_us))]

    def revoke_key(self, key_id: str, now_us: int, audit: CallAudit | None = None) -> ApiKey | None:
        with self.engine.begin() as conn:
            found = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
            if found is None:
                return None
            conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at_us.is_(None))
                .values(revoked_at_us=now_us)
            )
            key = _key(conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one())
            _audit_key(conn, audit, key_id, _key(found).state(), key.state(), now_us)
        return key


def _audit_key(
    conn: Connection,
    audit: CallAudit | None,
    key_id: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now_us: int,
) -> None:
    """A key's audit entry, in the transaction that made or revoked it (``now_us``: wall time)."""
    if audit is not None:
        audit.subject, audit.before = f"api_key:{key_id}", before
        append_audit(conn, audit.record(now_us, after))
        audit.written = True
