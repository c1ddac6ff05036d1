"""Impact analysis: everything that reads what changes in a dataset, in three queries, or on
the in-memory copy of the graph (``catalog.adjacency``) while it is current."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import neo4j

from headwater.catalog.adjacency import Adjacency, InMemoryGraph
from headwater.catalog.model import Downstream, ReachedField
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import GRAPH_NODE


class Impact(Connection, InMemoryGraph):
    def downstream(self, dataset_id: str, field_ids: Sequence[str], depth: int, limit: int
                   ) -> Downstream:
        copy = self._adjacency_now()
        # The query answers a start named twice once (the planner keeps one shortest path).
        starts = list(dict.fromkeys(field_ids))
        found = _reach(copy, starts, depth, limit) if copy is not None else None
        if found is None:
            fields, datasets, jobs, truncated = self._walk(field_ids, depth, limit)
        else:
            fields, datasets, jobs, truncated = found
        # 2. Dataset level: on the copy, the first step of the search shows there is nothing
        # to search (the usual case: most writers report column lineage), and the jobs that
        # read the changed dataset and write nothing are read from it.
        seeds = {dataset_id: 0} | datasets
        if copy is not None and not copy.blind_beyond(seeds):
            i = copy.node_index.get(dataset_id)
            start, link, nodes = copy.link_start, copy.link, copy.nodes
            for e in range(start[i], start[i + 1]) if i is not None else ():
                j = link[e]
                if start[j] == start[j + 1] and jobs.get(nodes[j], 2) > 1:
                    jobs[nodes[j]] = 1
            return Downstream(fields, datasets, jobs, truncated)
        truncated |= self._dataset_level(dataset_id, seeds, depth, limit, datasets, jobs)
        return Downstream(fields, datasets, jobs, truncated)

    def _walk(self, field_ids: Sequence[str], depth: int, limit: int
              ) -> tuple[list[ReachedField], dict[str, int], dict[str, int], bool]:
        # 1. One breadth-first search per changed field, one level deeper than asked (so that
        # the depth cut shows). Each reached field comes with the sources and jobs of the
        # derivations into it: those from reached fields name every job that derives an
        # affected field. One record holding one list (the driver pays per record).
        rows = self._read(
            "UNWIND $starts AS sid MATCH (s:Field {id: sid})"
            f" MATCH p = ANY SHORTEST (s)-[:DERIVES]->{{1,{depth + 1}}}(n)"
            " WITH sid, elementId(s) AS origin, n, length(p) AS d, nodes(p)[-2].id AS parent"
            " ORDER BY d LIMIT $limit MATCH (ds:Dataset)-[:HAS_FIELD]->(n)"
            " OPTIONAL MATCH (src)-[e:DERIVES]->(n)"
            " WITH sid, origin, n, d, parent, ds, collect([elementId(src), e.jobId]) AS into"
            " RETURN collect([sid, n.id, ds.id, n.name, d, parent, into, elementId(n), origin])"
            " AS rows",
            starts=list(field_ids), limit=limit + 1)[0]["rows"]
        rows.sort(key=lambda r: (r[4], r[1], r[0]))
        within = [r for r in rows if r[4] <= depth]
        truncated = len(within) < len(rows) or len(within) > limit
        within = within[:limit]
        fields = [ReachedField(*r[:6]) for r in within]
        # Sources compared by element id: reading their id property costs a third of the query.
        reached = {r[7] for r in within} | {r[8] for r in within}
        jobs: dict[str, int] = {}
        for r in within:
            for src, job in r[6]:
                if job and src in reached and r[4] < jobs.get(job, r[4] + 1):
                    jobs[job] = r[4]
        datasets: dict[str, int] = {}
        for r in within:
            if r[2] not in datasets or r[4] < datasets[r[2]]:
                datasets[r[2]] = r[4]
        return fields, datasets, jobs, truncated

    def _dataset_level(self, dataset_id: str, seeds: dict[str, int], depth: int, limit: int,
                       datasets: dict[str, int], jobs: dict[str, int]) -> bool:
        """Adds what the dataset-level queries find; True when they were cut short."""
        # 2. Dataset level: from the changed dataset and those fields' datasets, through jobs,
        # into datasets with no column lineage (theirs would say what they read). The first
        # step is a plain expansion (usually empty: most writers report column lineage); only
        # what it finds is searched on, breadth first.
        truncated = False
        blind = "NOT EXISTS { (%s)-[:HAS_FIELD]->(:Field)<-[:DERIVES]-() }"
        rows = self._read(
            "UNWIND keys($seeds) AS sid MATCH (:Dataset {id: sid})-[:INPUT_TO]->(:Job)"
            f"-[:PRODUCES]->(x:Dataset) WHERE $seeds[x.id] IS NULL AND {blind % 'x'}"
            " WITH x, min($seeds[sid]) + 1 AS d0"
            " MATCH p = ANY SHORTEST (x)((:Dataset)-[:INPUT_TO]->(:Job)-[:PRODUCES]->(y:Dataset)"
            f" WHERE $seeds[y.id] IS NULL AND {blind % 'y'}){{0,{depth}}}(t)"
            " WITH t, min(d0 + length(p) / 2) AS d ORDER BY d, t.id LIMIT $limit"
            " RETURN collect([t.id, d]) AS rows",
            seeds=seeds, limit=limit + 1)[0]["rows"]
        for i, d in sorted(rows, key=lambda r: (r[1], r[0])):
            if d > depth or len(datasets) >= limit:
                truncated = True
            else:
                datasets[i] = d
        unseen = [i for i in datasets if i not in seeds]
        # 3. Jobs that write a dataset-level one from the changed or an affected dataset, and
        # jobs that read the changed dataset and write nothing (checks, exports).
        for job, written in self._read(
            "CALL () { UNWIND $blind AS id MATCH (src:Dataset)-[:INPUT_TO]->(j:Job)"
            "-[:PRODUCES]->(:Dataset {id: id}) WHERE $sources[src.id] IS NOT NULL RETURN j, id"
            " UNION MATCH (:Dataset {id: $id})-[:INPUT_TO]->(j:Job)"
            " WHERE NOT EXISTS { (j)-[:PRODUCES]->() } RETURN j, null AS id }"
            " RETURN collect(DISTINCT [j.id, id]) AS jobs", blind=unseen, id=dataset_id,
            sources={i: True for i in (dataset_id, *datasets)})[0]["jobs"]:
            d = datasets[written] if written else 1
            if d < jobs.get(job, d + 1):
                jobs[job] = d
        return truncated

    def _graph_version(self) -> int | None:
        rows = self._read(f"MATCH (g:{GRAPH_NODE}) RETURN g.version AS n")
        return int(rows[0]["n"]) if rows else None

    def _load_adjacency(self) -> Adjacency:
        """From one read transaction, the counter first: Neo4j reads what is committed when
        each row is read, so a write committed during the build may be in the copy, but it
        bumped the counter past the copy's and the copy is never used."""
        with (self._driver.session(database=self.database,
                                   default_access_mode=neo4j.READ_ACCESS) as session,
              session.begin_transaction() as tx):
            version = tx.run(f"MATCH (g:{GRAPH_NODE}) RETURN g.version AS n").single()
            if version is None:
                raise RuntimeError("no graph counter: the database is not migrated")

            def rows(*queries: str) -> Iterator[Any]:
                for query in queries:  # one at a time: the driver streams the open one
                    yield from tx.run(query)

            return Adjacency(
                int(version["n"]),
                rows("MATCH (s:Field)-[e:DERIVES]->(t:Field) RETURN s.id, s.datasetId, s.name,"
                     " t.id, t.datasetId, t.name, e.jobId"),
                rows("MATCH (d:Dataset)-[:INPUT_TO]->(j:Job) RETURN d.id, j.id",
                     "MATCH (j:Job)-[:PRODUCES]->(d:Dataset) RETURN j.id, d.id"),
                (r[0] for r in rows("MATCH (d:Dataset) RETURN d.id")))


def _reach(copy: Adjacency, starts: list[str], depth: int, limit: int
           ) -> tuple[list[ReachedField], dict[str, int], dict[str, int], bool] | None:
    """What ``Impact._walk`` answers, on the copy: per start, the fields its derivations reach
    within ``depth + 1`` (breadth first; the parent of a field is the smallest in id order of
    those one level nearer), those of existing datasets kept. None when the query's row limit
    would cut the walk (which rows it keeps is then the database's choice): the query answers.
    """
    out_start, out, out_job, rank = copy.out_start, copy.out, copy.out_job, copy.rank
    pairs = 0
    reached: list[tuple[int, int, int, int]] = []  # (depth, field, start, parent)
    origin: dict[int, int] = {}
    for ix, sid in enumerate(starts):
        s = copy.find(sid)
        if s is None:
            continue
        origin[ix] = s
        seen: set[int] = set()  # the start too, once a cycle reaches it
        frontier = [s]
        for d in range(1, depth + 2):
            found: dict[int, int] = {}
            frontier.sort(key=rank.__getitem__)  # the first parent found is the smallest
            for p in frontier:
                for t in out[out_start[p]:out_start[p + 1]]:
                    if t not in seen and t not in found:
                        found[t] = p
            if not found:
                break
            pairs += len(found)
            if pairs > limit + 1:
                return None
            seen.update(found)
            reached += [(d, t, ix, p) for t, p in found.items()]
            frontier = list(found)
    dataset, exists, nodes, name = copy.dataset, copy.exists, copy.nodes, copy.field_name
    # Sorted as the query sorts its answer, (depth, id, start): rank is the id order.
    rows = sorted((d, rank[t], starts[ix], t, ix, p) for d, t, ix, p in reached
                  if exists[dataset[t]])
    within = [r for r in rows if r[0] <= depth]
    truncated = len(within) < len(rows) or len(within) > limit
    within = within[:limit]
    spelt: dict[int, str] = {}  # a parent is usually a reached field too
    fields = []
    nearest: dict[int, int] = {}  # field -> its smallest depth from any start
    datasets: dict[str, int] = {}
    for d, _, sid, t, _, p in within:
        tid = spelt.get(t)
        if tid is None:
            tid = spelt[t] = copy.field_id(t)
        ds = nodes[dataset[t]]
        fields.append(ReachedField(sid, tid, ds, name[t], d, spelt.get(p) or copy.field_id(p)))
        if t not in nearest:
            nearest[t] = d
        if ds not in datasets:
            datasets[ds] = d
    # Every job of a derivation into an affected field from an affected field or a start.
    jobs: dict[str, int] = {}
    for src in {*nearest, *(origin[r[4]] for r in within)}:
        a, b = out_start[src], out_start[src + 1]
        for t, j in zip(out[a:b], out_job[a:b], strict=True):
            if j >= 0:
                near = nearest.get(t)
                if near is not None and near < jobs.get(nodes[j], near + 1):
                    jobs[nodes[j]] = near
    return fields, datasets, jobs, truncated
