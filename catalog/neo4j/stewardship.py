"""A steward's edits, each its own transaction. An edit of what events also say (tags,
classifications) clears the dataset's facts digest: its next event is written in full
(catalog/facts.py), so it can put back a tag the steward removed, as it always could."""

from __future__ import annotations

from collections.abc import Sequence

import neo4j

from headwater.catalog.errors import StoreError
from headwater.catalog.ids import field_id
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import union
from headwater.catalog.neo4j.search import reindex


class Stewardship(Connection):
    def classify_field(self, dataset_id: str, field: str, classifications: Sequence[str]) -> None:
        fid = self._field_id(dataset_id, field)

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run("MATCH (d:Dataset {id: $ds}) MERGE (f:Field {id: $id})"
                   " ON CREATE SET f.datasetId = $ds, f.name = $field"
                   " MERGE (d)-[:HAS_FIELD]->(f) SET f.stewardClasses = $classes,"
                   " d.factsDigest = null",
                   ds=dataset_id, id=fid, field=field, classes=list(classifications)).consume()
            reindex(tx, [dataset_id])

        self._write_tx(work)

    def _field_id(self, dataset_id: str, field: str) -> str:
        rows = self._read("MATCH (d:Dataset {id: $id}) RETURN d.namespace AS ns, d.name AS name",
                          id=dataset_id)
        if not rows:
            raise StoreError(f"no dataset {dataset_id}")
        return field_id(rows[0]["ns"], rows[0]["name"], field)

    def tag_dataset(self, dataset_id: str, tags: Sequence[str], add: bool = True) -> None:
        change = (union("d", "tags", "$tags") if add
                  else "d.tags = [t IN coalesce(d.tags, []) WHERE NOT t IN $tags]")

        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(f"MATCH (d:Dataset {{id: $id}}) SET {change}, d.factsDigest = null",
                   id=dataset_id,
                   tags=list(tags)).consume()
            reindex(tx, [dataset_id])

        self._write_tx(work)

    def set_retention(self, dataset_id: str, days: int | None) -> None:
        self._edit("MATCH (d:Dataset {id: $id}) SET d.retentionDays = $days", id=dataset_id,
                   days=days)

    def declassify_edge(self, source_field_id: str, target_field_id: str, on: bool = True) -> None:
        self._edit("MATCH (:Field {id: $s})-[e:DERIVES]->(:Field {id: $t})"
                   " SET e.declassified = $on", s=source_field_id, t=target_field_id, on=on)
