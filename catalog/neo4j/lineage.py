"""Lineage traversals: bounded walks, inherited and held classifications, a job's column
flows, and every dataset step downstream (for erasure)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from headwater.catalog.ids import node_kind
from headwater.catalog.model import ClassifiedFields, Flow, Graph, GraphEdge, GraphNode, JobFlows
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import CARRIES, CLASSES, INHERIT_DEPTH
from headwater.catalog.rules import classified_fields, transformation_label


class LineageReads(Connection):
    def walk(self, start: str, level: str, direction: str, depth: int, limit: int) -> Graph:
        rel = "DERIVES" if level == "column" else "INPUT_TO|PRODUCES"
        left, right = ("<-", "-") if direction == "UPSTREAM" else ("-", "->")
        start_label = {"field": "Field", "dataset": "Dataset", "job": "Job"}.get(
            node_kind(start) or "", "Dataset")
        # ANY SHORTEST: one breadth-first search from the start, one shortest path per node
        # reached; a plain variable-length match would enumerate every path (exponential in a
        # graph full of diamonds). Each node comes back with its outgoing edges (those leaving
        # the returned set are dropped below) and, for fields, its dataset: one round trip.
        # Everything comes back as one record holding one list: the driver pays per record, so
        # 600 rows cost three times as much as one row of 600.
        column = level == "column"
        rows = self._read(
            f"MATCH (s:{start_label} {{id: $start}})"
            f" MATCH p = ANY SHORTEST (s){left}[:{rel}]{right}{{0,{depth + 1}}}(n)"
            " WITH n, length(p) AS d ORDER BY d, n.id LIMIT $limit"
            f" OPTIONAL MATCH (n)-[e:{rel}]->(m)"
            " WITH n, d, collect([m.id, e.type, e.subtype]) AS out"
            + (" OPTIONAL MATCH (ds:Dataset {id: n.datasetId})"
               " RETURN collect({id: n.id, d: d, namespace: ds.namespace, name: ds.name,"
               " field: n.name, out: out}) AS rows" if column else
               " RETURN collect({id: n.id, d: d, dataset: 'Dataset' IN labels(n),"
               " namespace: n.namespace, name: n.name, out: out}) AS rows"),
            start=start, limit=limit + 1)[0]["rows"]
        rows.sort(key=lambda r: (r["d"], r["id"]))
        within = [r for r in rows if r["d"] <= depth]
        truncated = len(within) < len(rows) or len(within) > limit
        within = within[:limit]
        if column:
            within = [r for r in within if r["namespace"] is not None]  # a field of no dataset
        kept = {r["id"] for r in within}
        nodes = [GraphNode(r["id"], "FIELD" if column else "DATASET" if r["dataset"] else "JOB",
                           r["namespace"], r["name"], r["field"] if column else None, r["d"])
                 for r in within]
        edges = sorted(
            {GraphEdge(r["id"], target, transformation_label(kind, subtype) if column else None)
             for r in within for target, kind, subtype in r["out"] if target in kept},
            key=lambda e: (e.source, e.target, e.transformation or ""))
        nodes.sort(key=lambda n: (n.depth, n.id))
        return Graph(nodes, edges, truncated)

    def inherited_classifications(self, field_ids: Sequence[str]) -> dict[str, list[str]]:
        rows = self._read(
            "UNWIND $ids AS id MATCH (t:Field {id: id})"
            f" MATCH ANY SHORTEST (t)<-[r:{CARRIES}]-{{1,{INHERIT_DEPTH}}}(f:Field)"
            f" WITH DISTINCT id, f UNWIND {CLASSES} AS c"
            " RETURN id, collect(DISTINCT c) AS classes", ids=list(field_ids))
        return {r["id"]: sorted(r["classes"]) for r in rows if r["classes"]}

    def job_flows(self, job_id: str) -> list[Flow]:
        rows = self._read(
            "MATCH (s:Field)-[e:DERIVES {jobId: $job}]->(t:Field)"
            " RETURN s.datasetId AS sd, s.name AS sf, t.datasetId AS td, t.name AS tf,"
            " e.type AS type, e.subtype AS subtype, e.masking AS masking"
            " ORDER BY sd, sf, td, tf, type, subtype", job=job_id)
        return [Flow(r["sd"], r["sf"], r["td"], r["tf"],
                     # Never empty: every DERIVES edge has a type (UNKNOWN at least).
                     transformation_label(r["type"], r["subtype"]) or r["type"],
                     bool(r["masking"])) for r in rows]

    def classified_fields(self, dataset_ids: Sequence[str]) -> dict[str, ClassifiedFields]:
        ids = list(dict.fromkeys(dataset_ids))
        # Per dataset one record: its latest schema, the names of its fields in column lineage
        # (to count those only lineage names) and its classified fields; no list of every
        # field with its classifications.
        rows = self._read(
            "UNWIND $ids AS id OPTIONAL MATCH (s:SchemaVersion {datasetId: id})"
            " WITH id, s ORDER BY s.version DESC WITH id, head(collect(s)) AS s"
            " OPTIONAL MATCH (:Dataset {id: id})-[:HAS_FIELD]->(f:Field)"
            f" WITH id, s, f, {CLASSES} AS cs"
            " RETURN id, s.fields AS fields,"
            "  collect(CASE WHEN EXISTS { (f)-[:DERIVES]-() } THEN f.name END) AS lineage,"
            "  collect(CASE WHEN size(cs) > 0 THEN [f.name, cs] END) AS classified",
            ids=ids)
        # Inheritance walked up from each field in the server (a field no carrying derivation
        # feeds ends at once); only the fields that inherit come back.
        inherited: dict[str, dict[str, list[str]]] = {}
        for r in self._read(
                "UNWIND $ids AS id MATCH (:Dataset {id: id})-[:HAS_FIELD]->(t:Field)"
                f" MATCH ANY SHORTEST (t)<-[r:{CARRIES}]-{{1,{INHERIT_DEPTH}}}(f:Field)"
                f" WITH DISTINCT id, t, f UNWIND {CLASSES} AS c"
                " RETURN id, t.name AS name, collect(DISTINCT c) AS classes", ids=ids):
            if r["classes"]:
                inherited.setdefault(r["id"], {})[r["name"]] = sorted(r["classes"])
        out = {i: ClassifiedFields() for i in ids}
        for r in rows:
            out[r["id"]] = classified_fields(
                orjson.loads(r["fields"] or "[]"), r["lineage"],
                {n: set(cs) for n, cs in r["classified"]}, inherited.get(r["id"], {}))
        return out

    def job_flows_from(self, job_id: str, field_ids: Sequence[str]) -> JobFlows:
        [r] = self._read(
            "CALL () { MATCH (s:Field)-[e:DERIVES {jobId: $job}]->(t:Field)"
            "  WITH s.datasetId AS sd, t.datasetId AS td, count(*) AS n"
            "  RETURN collect([sd, td, n]) AS pairs }"
            " CALL () { UNWIND $ids AS id"
            "  MATCH (s:Field {id: id})-[e:DERIVES {jobId: $job}]->(t:Field)"
            "  WITH s, e, t ORDER BY s.datasetId, s.name, t.datasetId, t.name, e.type, e.subtype"
            "  RETURN collect([s.datasetId, s.name, t.datasetId, t.name, e.type, e.subtype,"
            "   e.masking]) AS flows }"
            " RETURN pairs, flows", job=job_id, ids=list(dict.fromkeys(field_ids)))
        return JobFlows(sum(n for _, _, n in r["pairs"]), {(sd, td) for sd, td, _ in r["pairs"]},
                        [Flow(sd, sf, td, tf, transformation_label(t, st) or t, bool(m))
                         for sd, sf, td, tf, t, st, m in r["flows"]])

    def classification_holders(self, classifications: Sequence[str]
                               ) -> list[tuple[str, str, str, bool]]:
        matching = f"[c IN {CLASSES} WHERE any(w IN $wanted WHERE c = w OR c STARTS WITH w + '.')]"
        rows = self._read(
            "CALL () { MATCH (f:Field) WHERE f.tagClasses IS NOT NULL RETURN f"
            " UNION MATCH (f:Field) WHERE f.stewardClasses IS NOT NULL RETURN f }"
            f" WITH f, {matching} AS cs WHERE size(cs) > 0"
            # One breadth-first search per classified field, each reached field once (no path
            # enumeration); a cycle back to f only finds f again.
            f" OPTIONAL MATCH ANY SHORTEST (f)-[r:{CARRIES}]->+(t:Field)"
            " WITH f, cs, collect(t) AS reached"
            " UNWIND [[f, true]] + [x IN reached | [x, false]] AS held"
            " UNWIND cs AS c"
            # Direct wins over inherited for the same field and classification.
            " WITH held[0] AS n, c, any(x IN collect(held[1]) WHERE x) AS direct"
            " WHERE n.datasetId IS NOT NULL"
            " RETURN n.datasetId AS d, n.name AS f, c, direct", wanted=list(classifications))
        # Sorted here, as the embedded store sorts: by code point.
        return sorted((r["d"], r["f"], r["c"], bool(r["direct"])) for r in rows)

    def downstream_dataset_edges(self, dataset_ids: Sequence[str]
                                 ) -> list[tuple[str, str, str]]:
        # One BFS per start, which stops on entering another start: that one searches on from
        # there itself, so overlapping starts do not walk the same region again. $starts is a
        # map for a constant-time test.
        rows = self._read(
            "UNWIND $ids AS id MATCH (s:Dataset {id: id})"
            " OPTIONAL MATCH ANY SHORTEST (s)((:Dataset)-[:INPUT_TO]->(:Job)-[:PRODUCES]->"
            "(b:Dataset) WHERE $starts[b.id] IS NULL)*(d:Dataset)"
            " WITH DISTINCT d WHERE d IS NOT NULL"
            " MATCH (d)-[:INPUT_TO]->(j:Job)-[:PRODUCES]->(o:Dataset)"
            " RETURN DISTINCT d.id AS a, j.id AS j, o.id AS b",
            ids=list(dataset_ids), starts=dict.fromkeys(dataset_ids, True))
        return sorted((r["a"], r["j"], r["b"]) for r in rows)
