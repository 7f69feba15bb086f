"""API keys and scopes: ``Authorization: Bearer pk_live_…``.

A key has exactly one scope. Each operation needs one permission, and each
scope grants a fixed set of permissions (below, and in the OpenAPI document as
``x-scopes`` on every operation). Customer keys are bound to one account: they
see only that account's objects, and anything else is answered 404 — not 403
— so a customer cannot even learn that another account's object exists.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pledge.adapters.sqlalchemy.api_keys import ApiKey
from pledge.entrypoints.web.context import context
from pledge.entrypoints.web.errors import ApiError
from pledge.entrypoints.web.scopes import CUSTOMER, PERMISSIONS, scope_refusal

_bearer = HTTPBearer(auto_error=False, description="An API key from `pledge keys create`.")


@dataclass(frozen=True, slots=True)
class Principal:
    key: ApiKey

    @property
    def key_id(self) -> str:
        return self.key.key_id

    @property
    def actor(self) -> str:
        return self.key.actor

    @property
    def account_id(self) -> str | None:
        """The one account a customer key acts for; None for staff keys."""
        return self.key.account_id if self.key.scope == CUSTOMER else None

    def may_see(self, account_id: str) -> bool:
        return self.account_id is None or self.account_id == account_id


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, "authentication_error", code, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing_api_key", "send an API key as `Authorization: Bearer pk_live_…`")
    secret = credentials.credentials
    ctx = context(request)
    key = ctx.keys.key_by_secret(secret) if len(secret) <= 200 else None
    if key is None:
        raise _unauthorized("invalid_api_key", "the API key is not valid")
    refusal = key.refusal(ctx.clock.now_us())
    if refusal is not None:
        raise _unauthorized(*refusal)
    request.state.api_key_id = key.key_id
    return Principal(key)


def check_permission(principal: Principal, permission: str) -> None:
    """403 unless the key's scope grants ``permission``."""
    refusal = scope_refusal(principal.key.scope, permission)
    if refusal is not None:
        raise ApiError(403, "permission_error", "insufficient_scope", refusal)


def require(permission: str) -> Callable[..., Principal]:
    """A dependency: the authenticated principal, if its scope grants ``permission``."""
    assert permission in PERMISSIONS, f"unknown permission {permission}"  # fails at import, not per request

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        check_permission(principal, permission)
        return principal

    return dependency


def scopes_doc(permission: str) -> dict[str, object]:
    """OpenAPI extension listing the scopes allowed on an operation."""
    return {"x-scopes": list(PERMISSIONS[permission])}
