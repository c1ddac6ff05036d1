"""API tokens, kept by hash."""

from __future__ import annotations

from typing import Any

from headwater.catalog.errors import Conflict
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.rules import now
from headwater.catalog.store import TokenRecord

_RETURN = ("RETURN t.name AS name, t.role AS role, t.createdAt AS created_at,"
           " t.expiresAt AS expires_at, t.revokedAt AS revoked_at,"
           " t.lastUsedAt AS last_used_at, t.environment AS environment")


def _record(row: dict[str, Any]) -> TokenRecord:
    return TokenRecord(**row)


class Tokens(Connection):
    def add_token(self, token_hash: str, name: str, role: str, expires_at: str | None = None,
                  environment: str | None = None) -> None:
        # Checked and created in one transaction; the token_name constraint is the backstop.
        def create(tx: Any) -> bool:
            if tx.run("MATCH (t:Token {name: $name}) RETURN 1 LIMIT 1", name=name).single():
                return False
            tx.run("CREATE (:Token {hash: $hash, name: $name, role: $role, createdAt: $now,"
                   " expiresAt: $expires, environment: $environment})", hash=token_hash,
                   name=name, role=role, now=now(), expires=expires_at,
                   environment=environment).consume()
            return True

        if not self._write_tx(create):
            raise Conflict(f"a token named {name!r} exists already: choose another name "
                           "(headwater token list shows them)")

    def token_role(self, token_hash: str) -> str | None:
        record = self.token(token_hash)
        return record.role if record and record.usable(now()) else None

    def token(self, token_hash: str) -> TokenRecord | None:
        rows = self._read(f"MATCH (t:Token {{hash: $hash}}) {_RETURN}", hash=token_hash)
        return _record(rows[0]) if rows else None

    def tokens(self) -> list[TokenRecord]:
        return [_record(r) for r in self._read(f"MATCH (t:Token) {_RETURN} ORDER BY name")]

    def revoke_token(self, name: str, at: str) -> bool:
        def revoke(tx: Any) -> bool:
            return tx.run("MATCH (t:Token {name: $name})"
                          " SET t.revokedAt = coalesce(t.revokedAt, $at) RETURN count(t) AS n",
                          name=name, at=at).single()["n"] > 0
        return bool(self._write_tx(revoke))

    def token_used(self, token_hash: str, at: str) -> None:
        self._edit("MATCH (t:Token {hash: $hash}) SET t.lastUsedAt = $at", hash=token_hash, at=at)
