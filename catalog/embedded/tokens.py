"""API tokens, kept by hash."""

from __future__ import annotations

from headwater.catalog.embedded.connection import Connections
from headwater.catalog.rules import now


class Tokens(Connections):
    def add_token(self, token_hash: str, name: str, role: str) -> None:
        self._edit(("INSERT INTO tokens(hash, name, role, created_at) VALUES (?,?,?,?)",
                    (token_hash, name, role, now())))

    def token_role(self, token_hash: str) -> str | None:
        rows = self._rows("SELECT role FROM tokens WHERE hash = ?", (token_hash,))
        return rows[0][0] if rows else None
