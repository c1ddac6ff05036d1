"""Lineage traversals, each in one recursive query: the bounded walk, inherited
classifications, a job's column flows, who holds a classification, downstream dataset edges."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from headwater.catalog.embedded.connection import Connections
from headwater.catalog.model import ClassifiedFields, Flow, Graph, GraphEdge, GraphNode, JobFlows
from headwater.catalog.rules import classified_fields, transformation_label

INHERIT_DEPTH = 20  # classifications travel at most this many derivations
INHERIT_BUDGET = 200_000  # visits, so a pathological graph cannot stall a read


def _field_id(row: str) -> str:
    """SQL for the id of the field (catalog.ids.field_id) of a ``row`` with ``dataset_id`` and
    ``field``: from the dataset's id ("dataset:<ns>:<name>", the name escaped already) and the
    escaped field, so a field is found by primary key, where matching field_nodes on
    (dataset, field) would scan them all."""
    return (f"'datasetField' || substr({row}.dataset_id, 8) || ':'"
            f" || replace(replace({row}.field, '%', '%25'), ':', '%3A')")


class LineageReads(Connections):
    _WALK = {
        ("dataset", "DOWNSTREAM"): "SELECT e.dst, w.depth + 1 FROM walk w"
                                   " JOIN edges e ON e.src = w.node WHERE w.depth < ?",
        ("dataset", "UPSTREAM"): "SELECT e.src, w.depth + 1 FROM walk w"
                                 " JOIN edges e ON e.dst = w.node WHERE w.depth < ?",
        ("column", "DOWNSTREAM"): "SELECT e.target_id, w.depth + 1 FROM walk w"
                                  " JOIN column_edges e ON e.source_id = w.node WHERE w.depth < ?",
        ("column", "UPSTREAM"): "SELECT e.source_id, w.depth + 1 FROM walk w"
                                " JOIN column_edges e ON e.target_id = w.node WHERE w.depth < ?",
    }
    # Edges among a node set: iterate the set, probe the index by source, test the target
    # against the set (the unary + keeps SQLite from probing every source x target pair).
    _EDGES = {
        "dataset": "SELECT e.src, e.dst, NULL, NULL FROM json_each(?1) s"
                   " CROSS JOIN edges e ON e.src = s.value"
                   " WHERE +e.dst IN (SELECT value FROM json_each(?1)) ORDER BY 1, 2",
        "column": "SELECT e.source_id, e.target_id, e.type, e.subtype FROM json_each(?1) s"
                  " CROSS JOIN column_edges e ON e.source_id = s.value"
                  " WHERE +e.target_id IN (SELECT value FROM json_each(?1)) ORDER BY 1, 2, 3, 4",
    }

    def walk(self, start: str, level: str, direction: str, depth: int, limit: int) -> Graph:
        # Breadth first (the queue is ordered by depth), one level further than asked so that
        # anything found there says the depth cut the graph, and at most `budget` visits: in a
        # graph with many paths the same node is met at several depths, and a hub would
        # otherwise make the walk visit most of the graph to answer for `limit` nodes.
        budget = max(3 * limit, 3_000)
        rows = self._db.execute(
            "WITH RECURSIVE walk(node, depth) AS (SELECT ?, 0 UNION "
            + self._WALK[level, direction]
            + " ORDER BY 2 LIMIT ?) SELECT node, min(depth) AS d, sum(count(*)) OVER ()"
            " FROM walk GROUP BY node ORDER BY d, node LIMIT ?",
            (start, depth + 1, budget, limit + 1),
        ).fetchall()
        within = [(n, d) for n, d, _ in rows if d <= depth]
        truncated = (len(within) < len(rows) or len(within) > limit
                     or bool(rows and rows[0][2] >= budget))
        within = within[:limit]
        ids = orjson.dumps([n for n, _ in within]).decode()
        depth_of = dict(within)
        if level == "column":
            nodes = self._field_nodes(ids, depth_of)
        else:
            nodes = [
                GraphNode(i, "DATASET" if i.startswith("dataset:") else "JOB", ns, name, None,
                          depth_of[i])
                for i, ns, name in self._db.execute(
                    "SELECT id, namespace, name FROM datasets"
                    " WHERE id IN (SELECT value FROM json_each(?1)) UNION ALL"
                    " SELECT id, namespace, name FROM jobs"
                    " WHERE id IN (SELECT value FROM json_each(?1))", (ids,))
            ]
        edges = [GraphEdge(src, dst, transformation_label(t, st))
                 for src, dst, t, st in self._db.execute(self._EDGES[level], (ids,))]
        if not any(n.id == start for n in nodes):
            return Graph([], [], False)  # unknown start node
        nodes.sort(key=lambda n: (n.depth, n.id))
        return Graph(nodes, edges, truncated)

    def _field_nodes(self, ids: str, depth_of: dict[str, int]) -> list[GraphNode]:
        return [
            GraphNode(fid, "FIELD", ns, name, field, depth_of[fid])
            for fid, ns, name, field in self._db.execute(
                "SELECT f.id, d.namespace, d.name, f.field FROM json_each(?1) s"
                " CROSS JOIN field_nodes f ON f.id = s.value JOIN datasets d ON d.id = f.dataset_id",
                (ids,))
        ]

    def inherited_classifications(self, field_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        rows = self._db.execute(
            "WITH RECURSIVE up(origin, node, depth) AS ("
            " SELECT value, value, 0 FROM json_each(?1) UNION"
            " SELECT up.origin, e.source_id, up.depth + 1 FROM up"
            " JOIN column_edges e ON e.target_id = up.node"
            " WHERE up.depth < ?2 AND e.masking = 0 AND NOT EXISTS (SELECT 1 FROM"
            "  declassified_edges x WHERE x.source_id = e.source_id AND x.target_id = e.target_id)"
            " LIMIT ?3)"
            " SELECT DISTINCT up.origin, c.classification FROM up"
            " JOIN field_nodes f ON f.id = up.node"
            " JOIN field_classifications c ON c.dataset_id = f.dataset_id AND c.field = f.field"
            " WHERE up.depth > 0",
            (orjson.dumps(list(field_ids)).decode(), INHERIT_DEPTH, INHERIT_BUDGET),
        )
        for origin, classification in rows:
            out.setdefault(origin, set()).add(classification)
        return {k: sorted(v) for k, v in out.items()}

    def classified_fields(self, dataset_ids: Sequence[str]) -> dict[str, ClassifiedFields]:
        ids = list(dict.fromkeys(dataset_ids))
        asked = orjson.dumps(ids).decode()
        db = self._db
        schemas = {d: orjson.loads(f) for d, f in db.execute(
            "SELECT i.value, s.fields FROM json_each(?1) i CROSS JOIN schema_versions s"
            " ON s.dataset_id = i.value AND s.version = (SELECT max(version)"
            "  FROM schema_versions WHERE dataset_id = i.value)", (asked,))}
        # Names only, to count the columns only column lineage names (``fields`` lists them
        # after the schema's, by name): one JSON array per dataset, not a row per column.
        nodes: dict[str, list[str]] = {d: orjson.loads(names) for d, names in db.execute(
            "SELECT i.value, (SELECT json_group_array(f.field) FROM field_nodes f"
            " WHERE f.dataset_id = i.value) FROM json_each(?1) i", (asked,))}
        direct: dict[str, dict[str, set[str]]] = {}
        for d, f, c in db.execute(
                "SELECT fc.dataset_id, fc.field, fc.classification FROM json_each(?1) i"
                " CROSS JOIN field_classifications fc ON fc.dataset_id = i.value", (asked,)):
            direct.setdefault(d, {}).setdefault(f, set()).add(c)
        # Inheritance, walked the other way: the datasets upstream of those asked along column
        # lineage (by an index of the derivations' dataset pairs, whatever their width), their
        # classified fields, and from those downstream, within those datasets, to the fields
        # asked about. The same (field, classification) pairs as walking up from every field
        # of the datasets (a path of at most INHERIT_DEPTH carrying derivations between them),
        # at the cost of the classified part of the upstream lineage.
        inherited: dict[str, dict[str, set[str]]] = {}
        for d, f, c in db.execute(
            "WITH RECURSIVE asked(ds) AS (SELECT value FROM json_each(?1)),"
            " cone(ds) AS (SELECT ds FROM asked UNION"
            "  SELECT e.source_dataset FROM cone JOIN column_edges e ON e.target_dataset = cone.ds),"
            " down(node, classification, depth) AS ("
            f"  SELECT {_field_id('fc')}, fc.classification, 0 FROM cone"
            "   JOIN field_classifications fc ON fc.dataset_id = cone.ds UNION"
            "  SELECT e.target_id, down.classification, down.depth + 1 FROM down"
            "   JOIN column_edges e ON e.source_id = down.node"
            "  WHERE down.depth < ?2 AND e.masking = 0"
            "   AND e.target_dataset IN (SELECT ds FROM cone) AND NOT EXISTS (SELECT 1 FROM"
            "   declassified_edges x WHERE x.source_id = e.source_id AND x.target_id = e.target_id)"
            "  LIMIT ?3)"
            " SELECT DISTINCT f.dataset_id, f.field, down.classification FROM down"
            " JOIN field_nodes f ON f.id = down.node"
            " WHERE down.depth > 0 AND f.dataset_id IN (SELECT ds FROM asked)",
                (asked, INHERIT_DEPTH, INHERIT_BUDGET)):
            inherited.setdefault(d, {}).setdefault(f, set()).add(c)
        return {d: classified_fields(schemas.get(d, []), nodes.get(d, ()), direct.get(d, {}),
                                     inherited.get(d, {})) for d in ids}

    def job_flows_from(self, job_id: str, field_ids: Sequence[str]) -> JobFlows:
        # The count and the pairs from an index on (job, source dataset, target dataset): no
        # row is read. The flows by their sources' ids (the unary + keeps SQLite from scanning
        # the job's index once per source instead).
        count, pairs = 0, set()
        for sd, td, n in self._db.execute(
                "SELECT source_dataset, target_dataset, count(*) FROM column_edges"
                " WHERE job_id = ? GROUP BY 1, 2", (job_id,)):
            count += n
            pairs.add((sd, td))
        flows = [
            Flow(sd, sf, td, tf, transformation_label(t, st) or t, bool(m))
            for sd, sf, td, tf, t, st, m in self._db.execute(
                "SELECT e.source_dataset, e.source_field, e.target_dataset, e.target_field,"
                " e.type, e.subtype, e.masking FROM json_each(?1) s"
                " CROSS JOIN column_edges e ON e.source_id = s.value WHERE +e.job_id = ?2"
                " ORDER BY 1, 2, 3, 4, 5, 6",
                (orjson.dumps(list(dict.fromkeys(field_ids))).decode(), job_id))
        ] if field_ids else []
        return JobFlows(count, pairs, flows)

    def job_flows(self, job_id: str) -> list[Flow]:
        # ``or t``: only for the type checker, column_edges.type is NOT NULL.
        return [
            Flow(sd, sf, td, tf, transformation_label(t, st) or t, bool(m))
            for sd, sf, td, tf, t, st, m in self._db.execute(
                "SELECT source_dataset, source_field, target_dataset, target_field, type, subtype,"
                " masking FROM column_edges WHERE job_id = ? ORDER BY 1, 2, 3, 4, 5, 6", (job_id,))
        ]

    def classification_holders(self, classifications: Sequence[str]
                               ) -> list[tuple[str, str, str, bool]]:
        rows = self._db.execute(
            "WITH RECURSIVE wanted(c) AS (SELECT value FROM json_each(?1)),"
            # The classification, or one under it: "c." <= x < "c/" ('/' follows '.'), so both
            # halves are index ranges on field_classifications_class.
            " classified(dataset_id, field, classification) AS ("
            "  SELECT fc.dataset_id, fc.field, fc.classification FROM wanted w"
            "   JOIN field_classifications fc ON fc.classification = w.c UNION"
            "  SELECT fc.dataset_id, fc.field, fc.classification FROM wanted w"
            "   JOIN field_classifications fc"
            "   ON fc.classification >= w.c || '.' AND fc.classification < w.c || '/'),"
            # (field, classification) pairs: UNION drops repeats, so cycles end. The seed is the
            # field's id (catalog.ids.field_id) built from its dataset's ("dataset:<ns>:<name>",
            # the name escaped already) and the escaped field: a primary-key lookup, where
            # matching field_nodes on (dataset, field) would scan them all.
            " down(node, classification) AS ("
            f"  SELECT {_field_id('c')}, c.classification FROM classified c UNION"
            "  SELECT e.target_id, down.classification FROM down"
            "   JOIN column_edges e ON e.source_id = down.node"
            "  WHERE e.masking = 0 AND NOT EXISTS (SELECT 1 FROM declassified_edges x"
            "   WHERE x.source_id = e.source_id AND x.target_id = e.target_id))"
            " SELECT dataset_id, field, classification, 1 FROM classified UNION"
            " SELECT f.dataset_id, f.field, down.classification, 0 FROM down"
            "  JOIN field_nodes f ON f.id = down.node WHERE NOT EXISTS (SELECT 1 FROM classified c"
            "   WHERE c.dataset_id = f.dataset_id AND c.field = f.field"
            "   AND c.classification = down.classification)"
            " ORDER BY 1, 2, 3",
            (orjson.dumps(list(classifications)).decode(),)).fetchall()
        return [(d, f, c, bool(direct)) for d, f, c, direct in rows]

    def downstream_dataset_edges(self, dataset_ids: Sequence[str]
                                 ) -> list[tuple[str, str, str]]:
        rows = self._db.execute(
            "WITH RECURSIVE down(ds) AS (SELECT value FROM json_each(?1) UNION"
            "  SELECT o.dst FROM down JOIN edges i ON i.src = down.ds JOIN edges o ON o.src = i.dst)"
            " SELECT DISTINCT down.ds, i.dst, o.dst FROM down JOIN edges i ON i.src = down.ds"
            " JOIN edges o ON o.src = i.dst ORDER BY 1, 2, 3",
            (orjson.dumps(list(dataset_ids)).decode(),)).fetchall()
        return [(a, j, b) for a, j, b in rows]
