"""Authentication and roles over HTTP: the bearer token of a request, and FastAPI
dependencies enforcing the role a route needs (tokens themselves: ``catalog.tokens``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from headwater.api.problems import Problem
from headwater.catalog.errors import Forbidden
from headwater.catalog.tokens import RANK, Tokens


def principal_role(request: Request) -> tuple[str, str]:
    """(principal, role) of the caller, or a 401 problem."""
    tokens: Tokens | None = request.app.state.services.tokens
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


def check_role(have: str, needed: str) -> None:
    if RANK[have] < RANK[needed]:
        raise Forbidden(f"this needs the '{needed}' role; your token has '{have}'")


def require(role: str) -> Callable[[Request], Awaitable[str]]:
    async def dependency(request: Request) -> str:
        principal, have = principal_role(request)
        check_role(have, role)
        request.state.role = have
        return principal

    return dependency
