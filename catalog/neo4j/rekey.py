"""Schema version 4 of the Neo4j store: every node keyed by a 0.1.0 id whose name or field
holds ':' or '%' moves to its new id (``catalog.rekeying``), with every property that refers
to it. Relationships follow their nodes by themselves."""

from __future__ import annotations

from typing import Any

import neo4j
import orjson

from headwater.catalog.neo4j.cypher import bump_graph
from headwater.catalog.neo4j.search import reindex
from headwater.catalog.rekeying import TMP, moved, rekey_erasure

_SPECIAL = "({v}.name CONTAINS ':' OR {v}.name CONTAINS '%')"

# (the kinds of ids it holds, the match of one holder by the id in r.key, what to set), in
# order: a field's datasetId is found through its dataset, already at its next id (r.to).
_HOLDERS = (
    ("dataset", "MATCH (n:Dataset {id: r.key})", "n.id = r.to"),
    ("job", "MATCH (n:Job {id: r.key})", "n.id = r.to"),
    ("field", "MATCH (n:Field {id: r.key})", "n.id = r.to"),
    ("dataset", "MATCH (n:SchemaVersion {datasetId: r.key})", "n.datasetId = r.to"),
    ("dataset", "MATCH (n:Quality {datasetId: r.key})", "n.datasetId = r.to"),
    ("dataset", "MATCH (n:SchemaObservation {datasetId: r.key})", "n.datasetId = r.to"),
    ("dataset", "MATCH (:Dataset {id: r.to})-[:HAS_FIELD]->(n:Field)", "n.datasetId = r.to"),
    ("job", "MATCH (n:Run {jobId: r.key})", "n.jobId = r.to"),
    ("job", "MATCH ()-[n:DERIVES {jobId: r.key}]->()", "n.jobId = r.to"),
    ("any", "MATCH (n:Facet {owner: r.key})", "n.owner = r.to, n.key = r.to + '|' + n.name"),
)


def _found(tx: neo4j.ManagedTransaction, query: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(r["id"], tuple(r["parts"])) for r in tx.run(query)]


def rekey(tx: neo4j.ManagedTransaction) -> None:
    datasets = moved("dataset", _found(tx, "MATCH (n:Dataset) WHERE " + _SPECIAL.format(v="n")
                                       + " RETURN n.id AS id, [n.namespace, n.name] AS parts"))
    jobs = moved("job", _found(tx, "MATCH (n:Job) WHERE " + _SPECIAL.format(v="n")
                               + " RETURN n.id AS id, [n.namespace, n.name] AS parts"))
    fields = moved("field", _found(
        tx, "MATCH (d:Dataset)-[:HAS_FIELD]->(f:Field) WHERE " + _SPECIAL.format(v="f")
        + " OR " + _SPECIAL.format(v="d")
        + " RETURN f.id AS id, [d.namespace, d.name, f.name] AS parts"))
    by_kind = {"dataset": datasets, "job": jobs, "field": fields,
               "any": {**datasets, **jobs, **fields}}
    if not by_kind["any"]:
        return
    # Two passes (old -> TMP + new -> new): one node's new id may be another's old one.
    for phase in (0, 1):
        for kind, match, assign in _HOLDERS:
            rows = [{"key": old if phase == 0 else TMP + new,
                     "to": TMP + new if phase == 0 else new} for old, new in by_kind[kind].items()]
            if rows:
                tx.run(f"UNWIND $rows AS r {match} SET {assign}", rows=rows).consume()
        # Decisions have no index on jobId: one scan of them per pass, only when jobs move.
        if jobs:
            moves = {old if phase == 0 else TMP + new: TMP + new if phase == 0 else new
                     for old, new in jobs.items()}
            tx.run("MATCH (n:Decision) WHERE n.jobId IN keys($moves)"
                   " SET n.jobId = $moves[n.jobId]", moves=moves).consume()
    # The search documents of moved datasets and jobs, written again from what is stored.
    nodes = {**datasets, **jobs}
    if nodes:
        tx.run("UNWIND $ids AS id MATCH (s:SearchDoc {nodeId: id}) DELETE s",
               ids=list(nodes)).consume()
        tx.run("UNWIND $ids AS id MATCH (s:SearchSeen {nodeId: id}) DELETE s",
               ids=list(nodes)).consume()
        reindex(tx, list(nodes.values()))
    if datasets:
        docs: list[dict[str, Any]] = []
        for r in tx.run("MATCH (e:Erasure) RETURN e.id AS id, e.doc AS doc"):
            body = orjson.loads(r["doc"])
            if rekey_erasure(body, datasets):
                docs.append({"id": r["id"], "doc": orjson.dumps(body).decode()})
        if docs:
            tx.run("UNWIND $rows AS r MATCH (e:Erasure {id: r.id}) SET e.doc = r.doc",
                   rows=docs).consume()
    bump_graph(tx)  # ids moved: a copy of the graph holds the old ones
