"""Erasure request documents (compare-and-set) and their append-only audit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import neo4j
import orjson

from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import unwind


class Erasures(Connection):
    def _write_erasure(self, tx: neo4j.ManagedTransaction, doc: dict[str, Any],
                       audit: Sequence[dict[str, Any]]) -> None:
        unwind(tx, "UNWIND $rows AS r CREATE (:ErasureAudit {requestId: $id, seq: r.seq,"
               " entry: r.entry})", [{"seq": e["seq"], "entry": orjson.dumps(e).decode()}
                                     for e in audit], id=doc["id"])

    def create_erasure(self, doc: dict[str, Any], audit: Sequence[dict[str, Any]]) -> None:
        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run("CREATE (:Erasure {id: $id, version: $version, status: $status,"
                   " receivedAt: $received, doc: $doc})", id=doc["id"], version=doc["version"],
                   status=doc["status"], received=doc["receivedAt"],
                   doc=orjson.dumps(doc).decode()).consume()
            self._write_erasure(tx, doc, audit)
        self._write_tx(work)

    def update_erasure(self, doc: dict[str, Any], expected_version: int,
                       audit: Sequence[dict[str, Any]]) -> bool:
        def work(tx: neo4j.ManagedTransaction) -> bool:
            # The write lock taken by SET serialises concurrent writers on this node.
            hit = tx.run("MATCH (e:Erasure {id: $id}) WHERE e.version = $expected"
                         " SET e.version = $version, e.status = $status, e.doc = $doc"
                         " RETURN count(e) AS n", id=doc["id"], expected=expected_version,
                         version=doc["version"], status=doc["status"],
                         doc=orjson.dumps(doc).decode()).single()
            if not hit or not hit["n"]:
                return False
            self._write_erasure(tx, doc, audit)
            return True
        return bool(self._write_tx(work))

    def erasure(self, request_id: str) -> dict[str, Any] | None:
        rows = self._read("MATCH (e:Erasure {id: $id}) RETURN e.doc AS doc", id=request_id)
        return orjson.loads(rows[0]["doc"]) if rows else None

    def erasures(self, statuses: Sequence[str] | None = None, first: int = 100
                 ) -> list[dict[str, Any]]:
        # Two statements, so each is an index read: a "$statuses IS NULL OR" filter would
        # keep the planner from seeking erasure_status.
        where = ("e.receivedAt IS NOT NULL" if statuses is None
                 else "e.status IN $statuses AND e.receivedAt IS NOT NULL")
        rows = self._read(f"MATCH (e:Erasure) WHERE {where}"
                          " RETURN e.doc AS doc ORDER BY e.receivedAt, e.id LIMIT $first",
                          statuses=list(statuses or []), first=first)
        return [orjson.loads(r["doc"]) for r in rows]

    def erasure_audit(self, request_id: str) -> list[dict[str, Any]]:
        rows = self._read("MATCH (a:ErasureAudit {requestId: $id}) RETURN a.entry AS entry"
                          " ORDER BY a.seq", id=request_id)
        return [orjson.loads(r["entry"]) for r in rows]
