"""API tokens, kept by hash."""

from __future__ import annotations

import sqlite3

from headwater.catalog.embedded.connection import Connections
from headwater.catalog.errors import Conflict, StoreError
from headwater.catalog.rules import now
from headwater.catalog.store import TokenRecord

_COLUMNS = "name, role, created_at, expires_at, revoked_at, last_used_at, environment"


class Tokens(Connections):
    def add_token(self, token_hash: str, name: str, role: str, expires_at: str | None = None,
                  environment: str | None = None) -> None:
        try:
            self._edit((f"INSERT INTO tokens(hash, {_COLUMNS}) VALUES (?,?,?,?,?,NULL,NULL,?)",
                        (token_hash, name, role, now(), expires_at, environment)))
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError) and "name" in str(exc):
                raise Conflict(f"a token named {name!r} exists already: choose another name "
                               "(headwater token list shows them)") from None
            raise

    def token_role(self, token_hash: str) -> str | None:
        record = self.token(token_hash)
        return record.role if record and record.usable(now()) else None

    def token(self, token_hash: str) -> TokenRecord | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM tokens WHERE hash = ?", (token_hash,))
        return TokenRecord(*rows[0]) if rows else None

    def tokens(self) -> list[TokenRecord]:
        return [TokenRecord(*r) for r in self._rows(f"SELECT {_COLUMNS} FROM tokens ORDER BY name")]

    def revoke_token(self, name: str, at: str) -> bool:
        with self._transaction() as db:
            done = db.execute("UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) "
                              "WHERE name = ?", (at, name))
            return done.rowcount > 0

    def token_used(self, token_hash: str, at: str) -> None:
        # Bookkeeping, not evidence: no fsync of its own (the next durable commit carries it).
        self._edit(("UPDATE tokens SET last_used_at = ? WHERE hash = ?", (at, token_hash)),
                   fsync=False)
