"""Who approves and launches from the command line: the person whose API key is given.

``--actor`` is free text, so four-eyes cannot rest on it. Approving and
launching therefore need the person's own key (``--key`` or
``$PLEDGE_API_KEY``), checked against the database's keys exactly as the API
checks a bearer key: it must exist, be neither revoked nor expired, and have a
scope allowed to do this. The actor recorded is the key's person and id, as
through the API and the console, so one rule holds everywhere.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pledge.adapters.sqlalchemy.api_store import ApiKey, ApiStore
from pledge.bootstrap import App
from pledge.domain.errors import InputError, RefusedError
from pledge.domain.persons import same_person
from pledge.entrypoints.web.scopes import PERMISSIONS, scope_refusal

KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="PLEDGE_API_KEY",
        show_envvar=True,
        help="Your own API key (pk_live_…); you act as its person. Prefer $PLEDGE_API_KEY to keep it out "
        "of the shell history.",
    ),
]
MAX_SECRET = 200


def key_actor(pledge: App, secret: str | None, actor: str | None, permission: str) -> str:
    """The actor for ``permission`` (``"person (key_…)"``), or why the key may not act."""
    return cli_key(pledge, secret, actor, permission).actor


def cli_key(pledge: App, secret: str | None, actor: str | None, permission: str) -> ApiKey:
    """The key allowed ``permission`` (its ``actor`` and ``key_id`` go into the audit entry)."""
    scopes = ", ".join(PERMISSIONS[permission])
    if not secret or not secret.strip():
        raise InputError(
            f"--key: this needs your own API key (scope: {scopes}): pass --key or set PLEDGE_API_KEY; "
            f"an administrator makes one with `pledge keys create --scope {PERMISSIONS[permission][0]} "
            "--name YOUR.NAME`",
            param="key",
            code="missing_api_key",
        )
    secret = secret.strip()
    key = ApiStore(pledge.engine).key_by_secret(secret) if len(secret) <= MAX_SECRET else None
    if key is None:
        raise RefusedError("--key: not an API key of this database", param="key", code="invalid_api_key")
    refusal = key.refusal(pledge.wall_clock.now_us())
    if refusal is not None:
        raise RefusedError(f"--key: {refusal[1]}", param="key", code=refusal[0])
    scope = scope_refusal(key.scope, permission)
    if scope is not None:
        raise RefusedError(f"--key: {scope}", param="key", code="insufficient_scope")
    if actor is not None and not same_person(actor, key.name):
        raise RefusedError(
            f"--actor: {actor.strip()!r} is not {key.name!r}, the person of key {key.key_id}; "
            "act with your own key (or leave --actor out)",
            param="actor",
            code="actor_mismatch",
        )
    return key
