"""Erasure request documents (compare-and-set) and their append-only audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from headwater.catalog.embedded.connection import Connections


class Erasures(Connections):
    def _audit_rows(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]
                    ) -> list[tuple[str, Sequence[Any]]]:
        return [("INSERT INTO erasure_audit(request_id, seq, entry) VALUES (?,?,?)",
                 (doc["id"], e["seq"], orjson.dumps(e))) for e in audit]

    def create_erasure(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]) -> None:
        self._edit(("INSERT INTO erasures(id, version, status, received_at, doc) VALUES (?,?,?,?,?)",
                    (doc["id"], doc["version"], doc["status"], doc["receivedAt"],
                     orjson.dumps(doc))), *self._audit_rows(doc, audit))

    def update_erasure(self, doc: dict[str, Any], expected_version: int,
                       audit: Sequence[dict[str, Any]]) -> bool:
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE erasures SET version = ?, status = ?, doc = ? WHERE id = ?"
                " AND version = ?", (doc["version"], doc["status"], orjson.dumps(doc),
                                     doc["id"], expected_version)).rowcount
            if changed:  # else nothing was written: the commit is empty
                for sql, params in self._audit_rows(doc, audit):
                    db.execute(sql, params)
        return bool(changed)

    def erasure(self, request_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT doc FROM erasures WHERE id = ?", (request_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def erasures(self, statuses: Sequence[str] | None = None, first: int = 100
                 ) -> list[dict[str, Any]]:
        if statuses is None:
            rows = self._db.execute("SELECT doc FROM erasures ORDER BY received_at, id LIMIT ?",
                                    (first,)).fetchall()
        else:
            rows = self._db.execute(
                "SELECT doc FROM erasures WHERE status IN (SELECT value FROM json_each(?))"
                " ORDER BY received_at, id LIMIT ?",
                (orjson.dumps(list(statuses)).decode(), first)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def erasure_audit(self, request_id: str) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self._db.execute(
            "SELECT entry FROM erasure_audit WHERE request_id = ? ORDER BY seq", (request_id,))]
