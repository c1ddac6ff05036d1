"""FastAPI dependencies enforcing the role a route needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from headwater.api.auth import RANK, TokenCache
from headwater.api.problems import Problem


def principal_role(request: Request) -> tuple[str, str]:
    """(principal, role) of the caller, or a 401 problem."""
    tokens: TokenCache | None = request.app.state.tokens
    if tokens is None:  # --no-auth, loopback only
        return "anonymous", "admin"
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "missing bearer token: send 'Authorization: Bearer <token>' "
                      "(create one with 'headwater token create --role producer')",
                      headers={"WWW-Authenticate": "Bearer"})
    role = tokens.role(token.strip())
    if role is None:
        raise Problem(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()[:10] + "…", role


def require(role: str) -> Callable[[Request], Awaitable[str]]:
    async def dependency(request: Request) -> str:
        principal, have = principal_role(request)
        if RANK[have] < RANK[role]:
            raise Problem(403, f"this needs the '{role}' role; your token has '{have}'")
        request.state.role = have
        return principal

    return dependency
