"""API keys and scopes: ``Authorization: Bearer pk_live_…``.

A key has exactly one scope. Each operation needs one permission, and each
scope grants a fixed set of permissions (below, and in the OpenAPI document as
``x-scopes`` on every operation). Customer keys are bound to one account: they
see only that account's objects, and anything else is answered 404 — not 403
— so a customer cannot even learn that another account's object exists.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pledge.adapters.sqlalchemy.api_store import ApiKey
from pledge.entrypoints.api.context import context
from pledge.entrypoints.api.errors import ApiError

ADMIN, APPROVER, OPERATOR, SUPPORT, FINANCE, CUSTOMER = (
    "admin",
    "approver",
    "operator",
    "support",
    "finance",
    "customer",
)

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "campaigns.write": (ADMIN,),
    "campaigns.simulate": (ADMIN, APPROVER, OPERATOR, FINANCE),
    "campaigns.approve": (APPROVER,),
    "campaigns.operate": (OPERATOR,),
    "campaigns.read": (ADMIN, APPROVER, OPERATOR, FINANCE, SUPPORT),
    "data.import": (ADMIN, OPERATOR),
    "data.read": (ADMIN, OPERATOR, SUPPORT, CUSTOMER),
    "eligibility.read": (ADMIN, OPERATOR, SUPPORT, CUSTOMER),
    "grants.read": (ADMIN, OPERATOR, SUPPORT, FINANCE, CUSTOMER),
    "grants.claim": (CUSTOMER,),
    "grants.expire": (OPERATOR,),
    "grants.revoke": (OPERATOR, SUPPORT),  # an unopened grant, with a reason (ADR 14)
    "clawbacks.read": (ADMIN, OPERATOR, SUPPORT, FINANCE),
    "ledger.read": (ADMIN, FINANCE),
    "audit.read": (ADMIN, FINANCE),
    "jobs.read": (ADMIN, OPERATOR, FINANCE),  # and always the key that created the job
    "webhooks.manage": (ADMIN,),
    "events.read": (ADMIN, FINANCE),
    # Scenario B: plans, quotes, subscriptions, compensation.
    "plans.write": (ADMIN,),
    "plans.read": (ADMIN, APPROVER, OPERATOR, SUPPORT, FINANCE, CUSTOMER),
    "quotes.read": (ADMIN, SUPPORT, CUSTOMER),
    "subscriptions.buy": (ADMIN, SUPPORT, CUSTOMER),
    "subscriptions.read": (ADMIN, OPERATOR, SUPPORT, FINANCE, CUSTOMER),
    "subscriptions.auto_renew": (SUPPORT, CUSTOMER),  # the customer's own choice, or support on their behalf
    "subscriptions.refund": (SUPPORT,),
    "subscriptions.renew": (OPERATOR,),
    "compensation.preview": (ADMIN, APPROVER, OPERATOR, FINANCE, SUPPORT),  # dry runs
    "compensation.apply": (OPERATOR,),
    "compensation.apply_one": (OPERATOR, SUPPORT),  # one customer, by customer service
}

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
    key = context(request).store.key_by_secret(secret) if len(secret) <= 200 else None
    if key is None:
        raise _unauthorized("invalid_api_key", "the API key is not valid")
    now = time.time_ns() // 1_000
    if key.revoked_at_us is not None:
        raise _unauthorized("api_key_revoked", f"API key {key.key_id} was revoked")
    if not key.usable(now):
        raise _unauthorized("api_key_expired", f"API key {key.key_id} has expired")
    request.state.api_key_id = key.key_id
    return Principal(key)


def check_permission(principal: Principal, permission: str) -> None:
    """403 unless the key's scope grants ``permission``."""
    scopes = PERMISSIONS[permission]
    if principal.key.scope not in scopes:
        raise ApiError(
            403,
            "permission_error",
            "insufficient_scope",
            f"a {principal.key.scope} key may not do this (needs one of: {', '.join(scopes)})",
        )


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
