"""API tokens, kept by hash."""

from __future__ import annotations

from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.rules import now


class Tokens(Connection):
    def add_token(self, token_hash: str, name: str, role: str) -> None:
        self._edit("CREATE (:Token {hash: $hash, name: $name, role: $role, createdAt: $now})",
                   hash=token_hash, name=name, role=role, now=now())

    def token_role(self, token_hash: str) -> str | None:
        rows = self._read("MATCH (t:Token {hash: $hash}) RETURN t.role AS role", hash=token_hash)
        return rows[0]["role"] if rows else None
