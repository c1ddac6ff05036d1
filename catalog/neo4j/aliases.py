"""The Neo4j store's alias index and merges (``catalog.aliases``): ``(:DatasetAlias {id,
datasetId, namespace, name})`` nodes, looked up in the batch's first round trip, and the move
of a dataset stored under a name now declared an alias onto the dataset that declared it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import neo4j
import orjson

from headwater.catalog.aliases import Target, declared, renamed_from, resolve
from headwater.catalog.ids import dataset_id, field_id
from headwater.catalog.model import EventWrite
from headwater.catalog.neo4j.cypher import union, unwind
from headwater.catalog.rekeying import rekey_erasure
from headwater.catalog.rules import quality_result_id

ALIAS_INDEXES = [
    "CREATE CONSTRAINT dataset_alias_id IF NOT EXISTS FOR (n:DatasetAlias) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX dataset_alias_dataset IF NOT EXISTS FOR (n:DatasetAlias) ON (n.datasetId)",
]

# The batch's first query adds these two subqueries: the stored aliases among the names the
# batch holds, and the stored datasets among the names it declares aliases.
LOOKUP = (" CALL () { UNWIND $names AS id MATCH (a:DatasetAlias {id: id})"
          "  RETURN collect([id, a.datasetId, a.namespace, a.name]) AS aliases }"
          " CALL () { UNWIND $claims AS id MATCH (d:Dataset {id: id})"
          "  RETURN collect(id) AS claimed }")


def apply_aliases(tx: neo4j.ManagedTransaction, events: Sequence[EventWrite],
                  found: list[list[str]], claimed: list[str]
                  ) -> tuple[list[EventWrite], dict[str, Target]]:
    """The batch with its aliases resolved from what ``LOOKUP`` found, the new ones recorded;
    and the stored datasets that are now aliases, to ``merge``."""
    stored = {a: Target(i, ns, n) for a, i, ns, n in found}
    new = declared(events, stored) if any(
        d.aliases for e in events for d in e.all_datasets()) else {}
    targets = {**new, **stored}
    resolved = resolve(events, targets)
    unwind(tx, "UNWIND $rows AS r MERGE (a:DatasetAlias {id: r[0]})"
           " ON CREATE SET a.datasetId = r[1], a.namespace = r[2], a.name = r[3]",
           [[a, t.id, t.namespace, t.name] for a, t in new.items()])
    # A declared name stored as a dataset of its own: new, or declared before but stored
    # since (before an upgrade, or by a concurrent writer) is merged too.
    return resolved, {a: targets[a] for a in claimed if a in targets}


def merge(tx: neo4j.ManagedTransaction, moves: dict[str, Target]) -> None:
    """Move everything stored about each dataset ``old`` onto its target, then delete it
    (the embedded store's ``merge``, same rules). The schema history is merged by the caller.
    Rare (once per alias ever): a fixed number of statements for all of a batch's moves."""
    if not moves:
        return
    rows = [{"old": old, "new": t.id, "ns": t.namespace, "name": t.name} for old, t in moves.items()]
    tx.run(
        "UNWIND $rows AS r MATCH (o:Dataset {id: r.old})"
        " MERGE (d:Dataset {id: r.new}) ON CREATE SET d.namespace = r.ns, d.name = r.name,"
        "  d.createdAt = o.createdAt, d.updatedAt = o.updatedAt"
        " WITH o, d, r, o.updatedAt > d.updatedAt AS newer"
        " SET d.description = CASE WHEN o.description IS NOT NULL AND (d.description IS NULL"
        "  OR newer) THEN o.description ELSE d.description END,"
        "  d.lifecycleState = CASE WHEN o.lifecycleState IS NOT NULL AND (d.lifecycleState"
        "  IS NULL OR newer) THEN o.lifecycleState ELSE d.lifecycleState END,"
        "  d.retentionDays = coalesce(d.retentionDays, o.retentionDays),"
        "  d.createdAt = CASE WHEN o.createdAt < d.createdAt THEN o.createdAt ELSE d.createdAt END,"
        "  d.updatedAt = CASE WHEN newer THEN o.updatedAt ELSE d.updatedAt END,"
        # What the target holds is no longer what its facts digest promised (catalog.facts).
        "  d.factsDigest = null, "
        + union("d", "tags", "coalesce(o.tags, [])") + ", "
        + union("d", "owners", "coalesce(o.owners, [])") + ", "
        + union("d", "symlinks", "[s IN coalesce(o.symlinks, [])"
                                 " WHERE NOT s STARTS WITH r.ns + '|' + r.name + '|']"),
        rows=rows).consume()
    tx.run("UNWIND $rows AS r MATCH (a:DatasetAlias {datasetId: r.old})"
           " SET a.datasetId = r.new, a.namespace = r.ns, a.name = r.name", rows=rows).consume()
    # Lineage: jobs reading and writing it, runs that did (with the version they saw). The
    # jobs' edges and derivations move: their facts digests no longer hold (catalog.facts).
    tx.run("UNWIND $rows AS r MATCH (o:Dataset {id: r.old}), (d:Dataset {id: r.new})"
           " CALL (o, d) { MATCH (o)-[:INPUT_TO]->(j:Job) MERGE (d)-[:INPUT_TO]->(j)"
           "  SET j.factsDigest = null }"
           " CALL (o, d) { MATCH (j:Job)-[:PRODUCES]->(o) MERGE (j)-[:PRODUCES]->(d)"
           "  SET j.factsDigest = null }",
           rows=rows).consume()
    io = [dict(r) for r in tx.run(
        "UNWIND $rows AS r MATCH (run:Run)-[x:READ|WROTE]->(:Dataset {id: r.old})"
        " RETURN r.old AS old, r.new AS new, run.id AS run, type(x) AS kind,"
        " x.schemaVersion AS version", rows=rows)]
    for rel in ("READ", "WROTE"):
        unwind(tx, f"UNWIND $rows AS r MATCH (run:Run {{id: r.run}}), (d:Dataset {{id: r.new}})"
               f" MERGE (run)-[x:{rel}]->(d) ON CREATE SET x.schemaVersion = r.version",
               [r for r in io if r["kind"] == rel])
    # Facets: the dataset's own, and those runs reported for it (keyed run|role|dataset).
    keys = [[r["old"], r["new"]] for r in rows] + [
        [f"{r['run']}|{role}|{r['old']}", f"{r['run']}|{role}|{r['new']}"] for r in io
        for role in (("input",) if r["kind"] == "READ" else ("output", "dataset"))]
    unwind(tx, "UNWIND $rows AS r MATCH (f:Facet {owner: r[0]})"
           " MERGE (n:Facet {key: r[1] + '|' + f.name}) ON CREATE SET n.owner = r[1],"
           "  n.name = f.name, n.eventTime = f.eventTime, n.body = f.body"
           " WITH f, n SET n.body = CASE WHEN f.eventTime > n.eventTime THEN f.body ELSE n.body"
           "  END, n.eventTime = CASE WHEN f.eventTime > n.eventTime THEN f.eventTime"
           "  ELSE n.eventTime END DETACH DELETE f", keys)
    _move_fields(tx, moves)
    _move_quality(tx, rows)
    docs: list[dict[str, Any]] = []
    for r in tx.run("MATCH (e:Erasure) RETURN e.id AS id, e.doc AS doc"):
        body = orjson.loads(r["doc"])
        if rekey_erasure(body, {old: t.id for old, t in moves.items()}):
            docs.append({"id": r["id"], "doc": orjson.dumps(body).decode()})
    unwind(tx, "UNWIND $rows AS r MATCH (e:Erasure {id: r.id}) SET e.doc = r.doc", docs)
    tx.run("UNWIND $rows AS r MATCH (o:Dataset {id: r.old}) DETACH DELETE o", rows=rows).consume()


def _move_fields(tx: neo4j.ManagedTransaction, moves: dict[str, Target]) -> None:
    """Each field of a moved dataset becomes the target's field of that name (classifications
    united); every derivation to or from it is drawn again between the new ends."""
    fields = {r["id"]: (r["ds"], r["name"], r["tags"], r["steward"]) for r in tx.run(
        "UNWIND $ids AS ds MATCH (:Dataset {id: ds})-[:HAS_FIELD]->(f:Field)"
        " RETURN ds, f.id AS id, f.name AS name, f.tagClasses AS tags,"
        " f.stewardClasses AS steward", ids=list(moves))}
    if not fields:
        return

    def moved(fid: str) -> str:
        if fid not in fields:
            return fid
        t = moves[fields[fid][0]]
        return field_id(t.namespace, t.name, fields[fid][1])

    unwind(tx, "UNWIND $rows AS r MATCH (d:Dataset {id: r.ds})"
           " MERGE (f:Field {id: r.id}) ON CREATE SET f.datasetId = r.ds, f.name = r.name"
           " MERGE (d)-[:HAS_FIELD]->(f) SET " + union("f", "tagClasses", "r.tags") + ", "
           + "f.stewardClasses = CASE WHEN r.steward IS NULL THEN f.stewardClasses ELSE"
           " coalesce(f.stewardClasses, []) + [x IN r.steward WHERE NOT x IN"
           " coalesce(f.stewardClasses, [])] END",
           [{"ds": moves[ds].id, "id": moved(fid), "name": name, "tags": tags or [],
             "steward": steward} for fid, (ds, name, tags, steward) in fields.items()])
    edges = [dict(r) for r in tx.run(
        "UNWIND $ids AS id MATCH (f:Field {id: id})-[e:DERIVES]-() WITH DISTINCT e"
        " RETURN startNode(e).id AS s, endNode(e).id AS t, properties(e) AS props",
        ids=list(fields))]
    unwind(tx, "UNWIND $rows AS r MATCH (s:Field {id: r.s}), (t:Field {id: r.t})"
           " MERGE (s)-[e:DERIVES {type: r.props.type, subtype: r.props.subtype}]->(t)"
           " SET e.description = coalesce(e.description, r.props.description),"
           "  e.masking = coalesce(e.masking, r.props.masking),"
           "  e.jobId = coalesce(e.jobId, r.props.jobId),"
           "  e.declassified = coalesce(e.declassified, r.props.declassified)",
           [{"s": moved(e["s"]), "t": moved(e["t"]), "props": e["props"]} for e in edges])
    tx.run("UNWIND $jobs AS id MATCH (j:Job {id: id}) SET j.factsDigest = null",
           jobs=sorted({e["props"]["jobId"] for e in edges if e["props"].get("jobId")})
           ).consume()
    tx.run("UNWIND $ids AS id MATCH (f:Field {id: id}) DETACH DELETE f",
           ids=list(fields)).consume()


def _move_quality(tx: neo4j.ManagedTransaction, rows: list[dict[str, str]]) -> None:
    """Results of a run are keyed by their dataset (so a START and a COMPLETE meet) and get
    the target's key; those of a run-less event keep theirs (keyed by the event)."""
    found = [dict(r) for r in tx.run(
        "UNWIND $rows AS r MATCH (q:Quality {datasetId: r.old})"
        " RETURN r.new AS new, q.id AS id, properties(q) AS q", rows=rows)]
    unwind(tx, "UNWIND $rows AS r MATCH (q:Quality {id: r.old}) DELETE q",
           [{"old": f["id"]} for f in found])
    unwind(tx, "UNWIND $rows AS r MERGE (q:Quality {id: r.id}) ON CREATE SET q = r.q,"
           " q.id = r.id, q.datasetId = r.ds"
           " WITH q, r WHERE r.q.observedAt > q.observedAt"
           " OR (r.q.observedAt = q.observedAt AND q.success AND NOT r.q.success)"
           " SET q.success = r.q.success, q.observedAt = r.q.observedAt, q.value = r.q.value",
           [{"id": quality_result_id(f["new"], f["q"].get("field"), f["q"]["assertion"],
                                     f["q"]["runId"], f["q"]["source"], f["q"].get("name"))
             if f["q"].get("runId") else f["id"], "ds": f["new"], "q": f["q"]} for f in found])


def build_aliases(tx: neo4j.ManagedTransaction) -> None:
    """Migration: the alias index from the stored symlinks, but a RENAME's old name (found in
    the stored events that carry a ``previousIdentifier``; one scan of the events)."""
    renamed: set[tuple[str, str]] = set()
    for r in tx.run("MATCH (e:Event) RETURN e.payload AS p"):
        payload = bytes(r["p"])
        if b"previousIdentifier" in payload:
            renamed |= renamed_from(orjson.loads(payload))
    rows = []
    for r in tx.run("MATCH (d:Dataset) WHERE size(coalesce(d.symlinks, [])) > 0"
                    " RETURN d.id AS id, d.namespace AS ns, d.name AS name, d.symlinks AS links"
                    " ORDER BY d.createdAt, d.id"):
        for link in r["links"]:
            ns, name, _ = link.split("|", 2) if link.count("|") >= 2 else (link, "", "")
            alias = dataset_id(ns, name)
            if (ns, name) not in renamed and alias != r["id"]:
                rows.append([alias, r["id"], r["ns"], r["name"]])
    unwind(tx, "UNWIND $rows AS r MERGE (a:DatasetAlias {id: r[0]})"
           " ON CREATE SET a.datasetId = r[1], a.namespace = r[2], a.name = r[3]", rows)
