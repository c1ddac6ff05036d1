"""API tokens and roles: ``admin`` > ``steward`` > ``producer`` > ``viewer``.

Tokens are random; only their SHA-256 is stored, so a leaked database leaks no usable token.
A token is known by its name (unique), which is the principal everything records: decision
logs, audits, GraphQL. It may expire, and it can be revoked; either takes effect within a
second on every server sharing the store (``Tokens`` re-reads a token at most once a second).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from headwater.catalog.errors import Invalid, NotFound
from headwater.catalog.rules import now, utc_text
from headwater.catalog.store import TokenRecord, TokenStore

__all__ = ["RANK", "ROLES", "Identity", "TokenRecord", "Tokens", "create_token", "hash_token",
           "list_tokens", "parse_lifetime", "revoke_token"]

log = logging.getLogger(__name__)
ROLES = ("viewer", "producer", "steward", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Identity:
    """Who a request comes from, as its token says."""

    name: str
    role: str
    environment: str | None = None  # the environment the token is bound to, if any


ANONYMOUS = Identity("anonymous", "admin")  # authentication off (--no-auth, loopback only)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_lifetime(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``2w``: a token's lifetime."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not m or int(m.group(1)) == 0:
        raise Invalid.one(f"expiry {text!r} is not a duration: write a positive number and a "
                          "unit, m (minutes), h, d or w (weeks), e.g. 90d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def create_token(store: TokenStore, role: str, name: str | None = None,
                 expires_in: timedelta | None = None, environment: str | None = None) -> str:
    """A new token for ``role``, stored by hash; the token itself is shown once, here.
    ``Conflict`` when the name is taken; without a name one is made up (``<role>-<6 hex>``,
    which is not part of the token)."""
    if role not in RANK:
        raise Invalid.one(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if name is not None and not NAME.fullmatch(name):
        raise Invalid.one(f"token name {name!r}: use 1-100 letters, digits and . _ @ : - "
                          "(starting with a letter or digit)")
    if environment is not None and not environment.strip():
        raise Invalid.one("the environment must not be empty")
    token = "hw_" + secrets.token_urlsafe(32)
    expires_at = utc_text(datetime.now(UTC) + expires_in) if expires_in else None
    store.add_token(hash_token(token), name or f"{role}-{secrets.token_hex(3)}", role,
                    expires_at, environment)
    return token


def list_tokens(store: TokenStore) -> list[TokenRecord]:
    return store.tokens()


def revoke_token(store: TokenStore, name: str) -> None:
    if not store.revoke_token(name, now()):
        raise NotFound(f"no token is named {name!r} (headwater token list shows them)")


def status(record: TokenRecord, at: str | None = None) -> str:
    at = at or now()
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and record.expires_at <= at:
        return "expired"
    return "active"


class Tokens:
    """Looks tokens up in the store, remembering a usable token for ``ttl`` seconds (1 s) so a
    busy producer costs one indexed read per second, not one per request, while a revoked,
    expired or deleted token is refused within that second on every server. Expiry is also
    checked on every request. Unknown tokens are re-checked each time, so a new token works at
    once. The last use is written at most once a minute per token."""

    TOUCH_EVERY = 60.0

    def __init__(self, store: TokenStore, ttl: float = 1.0) -> None:
        self.store = store
        self.ttl = ttl
        self._known: dict[str, tuple[TokenRecord, float]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()
        # Last-use writes go to a thread of their own: a request never waits for one.
        self._toucher = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="token-use")

    def identify(self, token: str) -> Identity | None:
        """Who the token is, or None when it is unknown, revoked or expired."""
        h = hash_token(token)
        at = now()
        mono = time.monotonic()
        hit = self._known.get(h)
        if hit and mono - hit[1] < self.ttl:
            record = hit[0]
        else:
            found = self.store.token(h)
            if found is None or not found.usable(at):
                self._known.pop(h, None)
                return None
            record = found
            with self._lock:
                self._known[h] = (record, mono)
                touch = mono - self._touched.get(h, -self.TOUCH_EVERY) >= self.TOUCH_EVERY
                if touch:
                    self._touched[h] = mono
            if touch:
                self._toucher.submit(self._touch, h, at)
        if not record.usable(at):
            return None
        return Identity(record.name, record.role, record.environment)

    def _touch(self, token_hash: str, at: str) -> None:
        try:
            self.store.token_used(token_hash, at)
        except Exception as exc:  # bookkeeping: never worth failing a request over
            log.warning("could not record a token's last use: %s", exc)

    def role(self, token: str) -> str | None:
        """The token's role, or None when it is unknown, revoked or expired."""
        identity = self.identify(token)
        return identity.role if identity else None

    def create(self, role: str, name: str | None = None) -> str:
        return create_token(self.store, role, name)
