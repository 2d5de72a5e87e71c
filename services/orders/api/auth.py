"""Who is calling, resolved on the event loop.

The checks are services.common.api's own (called as plain functions); only the wrapping
is ``async def``, so that FastAPI does not run three sync dependencies on worker threads
for every request — thread hops that cost more than the order itself at hundreds of
orders per second on two cores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.api import current_principal, optional_principal, require_roles
from services.common.auth import Principal, Role

_bearer = HTTPBearer(auto_error=False, description="Bearer JWT from `vndx token` or OIDC")


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller (401 without a valid token)."""
    return current_principal(optional_principal(request, credentials))


def caller_in(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (403 otherwise)."""
    check = require_roles(*roles)

    async def dependency(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return check(principal)

    return dependency
