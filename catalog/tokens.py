"""API tokens and roles: ``admin`` > ``steward`` > ``producer`` > ``viewer``.

Tokens are random; only their SHA-256 is stored, so a leaked database leaks no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from headwater.catalog.errors import Invalid
from headwater.catalog.store import TokenStore

ROLES = ("viewer", "producer", "steward", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: TokenStore, role: str, name: str | None = None) -> str:
    """A new token for ``role``, stored by hash; the token itself is shown once, here."""
    if role not in RANK:
        raise Invalid.one(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    token = "hw_" + secrets.token_urlsafe(32)
    store.add_token(hash_token(token), name or f"{role}-token", role)
    return token


class Tokens:
    """Looks tokens up in the store, remembering answers briefly so a busy producer does not
    cost a store read per request; unknown tokens are re-checked so a new token works at once."""

    def __init__(self, store: TokenStore, ttl: float = 30.0) -> None:
        self.store = store
        self.ttl = ttl
        self._known: dict[str, tuple[str, float]] = {}

    def role(self, token: str) -> str | None:
        """The token's role, or None when it is unknown or revoked."""
        h = hash_token(token)
        hit = self._known.get(h)
        now = time.monotonic()
        if hit and now - hit[1] < self.ttl:
            return hit[0]
        role = self.store.token_role(h)
        if role is not None:
            self._known[h] = (role, now)
        return role

    def create(self, role: str, name: str | None = None) -> str:
        return create_token(self.store, role, name)
