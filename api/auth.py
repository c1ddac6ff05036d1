"""Authentication and roles over HTTP: the bearer token of a request, and FastAPI
dependencies enforcing the role a route needs (tokens themselves: ``catalog.tokens``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from headwater.api.problems import Problem
from headwater.api.sessions import CSRF_HEADER, Sessions, csrf_matches
from headwater.catalog.errors import Forbidden
from headwater.catalog.tokens import ANONYMOUS, RANK, Identity, Tokens


def identity(request: Request) -> Identity:
    """Who the caller is, by its bearer token, or a 401 problem."""
    tokens: Tokens | None = request.app.state.services.tokens
    if tokens is None:  # --no-auth, loopback only
        return ANONYMOUS
    header = request.headers.get("authorization", "")
    if not header:
        header = _from_session(request)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "missing bearer token: send 'Authorization: Bearer <token>' "
                      "(create one with 'headwater token create --role producer')",
                      headers={"WWW-Authenticate": "Bearer"})
    who = tokens.identify(token.strip())
    if who is None:
        raise Problem(401, "unknown, revoked or expired token: ask an admin for a new one "
                      "('headwater token list' shows which tokens are active)",
                      headers={"WWW-Authenticate": "Bearer"})
    return who


def _from_session(request: Request) -> str:
    """A page of the web UI (GraphiQL, Swagger) calling the API as its signed-in user: the
    session cookie counts only with the session's CSRF token in a header, which another site
    cannot read or send."""
    sessions: Sessions | None = getattr(request.app.state, "sessions", None)
    session = sessions.of(request) if sessions else None
    if session is None or not csrf_matches(session, request.headers.get(CSRF_HEADER)):
        return ""
    return f"Bearer {session.token}"


def principal_role(request: Request) -> tuple[str, str]:
    """(principal, role) of the caller, or a 401 problem. The principal is the token's name,
    never any part of the token."""
    who = identity(request)
    return who.name, who.role


def check_role(have: str, needed: str) -> None:
    if RANK[have] < RANK[needed]:
        raise Forbidden(f"this needs the '{needed}' role; your token has '{have}'")


def require_identity(role: str) -> Callable[[Request], Awaitable[Identity]]:
    """A dependency: the caller's identity, once its role is at least ``role``."""
    async def dependency(request: Request) -> Identity:
        who = identity(request)
        check_role(who.role, role)
        request.state.role = who.role
        return who

    return dependency


def require(role: str) -> Callable[[Request], Awaitable[str]]:
    """A dependency: the caller's principal (its token's name), once its role is at least
    ``role``."""
    async def dependency(request: Request) -> str:
        principal, have = principal_role(request)
        check_role(have, role)
        request.state.role = have
        return principal

    return dependency
