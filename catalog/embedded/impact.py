"""Impact analysis: everything downstream of a change to a dataset and some of its fields, in a
fixed number of queries whatever the graph's size."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from headwater.catalog.adjacency import Adjacency, InMemoryGraph, Walk
from headwater.catalog.embedded.connection import Connections
from headwater.catalog.model import Downstream, ReachedField


class ImpactReads(Connections, InMemoryGraph):
    def downstream(self, dataset_id: str, field_ids: Sequence[str], depth: int, limit: int
                   ) -> Downstream:
        budget = max(3 * limit, 3_000)  # visits, as in walk()
        # 1. Column lineage from every changed field at once, breadth first, one level deeper
        # than asked (so that the depth cut shows). Every edge out of a reached field is
        # followed once, so the jobs of those edges are every job that derives an affected
        # field. The in-memory copy of the graph walks it when it is current and the walk
        # stays under the budget (catalog/embedded/adjacency.py); otherwise the query does.
        starts = list(dict.fromkeys(field_ids))
        adjacency = self._adjacency_now()
        found = adjacency.reach(starts, depth, limit, budget) if adjacency is not None else None
        if found is not None:
            fields, datasets, jobs = found
            truncated = False
        else:
            fields, datasets, jobs, truncated = self._cut_walk(adjacency, starts, depth, limit,
                                                               budget)
        # 2. Dataset level: from the changed dataset and those fields' datasets, through jobs,
        # into datasets that have no column lineage (theirs would say what they read). Usually
        # every dataset one job away has column lineage, and one plain hop shows it; only
        # otherwise is the search run.
        seeds = {dataset_id: 0} | datasets
        if (adjacency.blind_beyond(seeds) if adjacency is not None
                else self._blind_beyond(seeds)):
            truncated |= self._blind_downstream(seeds, depth, budget, limit, datasets, jobs)
        # 3. Jobs that read the changed dataset and write nothing (checks, exports).
        for (job,) in self._db.execute(
            "SELECT i.dst FROM edges i WHERE i.src = ? AND i.dst LIKE 'job:%'"
            " AND NOT EXISTS (SELECT 1 FROM edges o WHERE o.src = i.dst)", (dataset_id,)):
            jobs.setdefault(job, 1)
        return Downstream(fields, datasets, jobs, truncated)

    def _cut_walk(self, adjacency: Adjacency | None, starts: list[str], depth: int, limit: int,
                  budget: int) -> tuple[list[ReachedField], dict[str, int], dict[str, int], bool]:
        """Fields, datasets and jobs of a walk that the budget, the depth or the limit may cut."""
        walk = adjacency.walk(starts, depth, budget) if adjacency is not None else None
        if walk is None:
            walk = self._walk(starts, depth, budget)
        truncated = walk.rows + len(starts) >= budget
        nearest = walk.nearest
        reached = sorted((d, node, ix) for (ix, node), (d, *_) in nearest.items())
        within = [r for r in reached if r[0] <= depth]
        truncated |= len(within) < len(reached) or len(within) > limit
        within = within[:limit]
        kept = {(ix, node) for _, node, ix in within}
        jobs: dict[str, int] = {}
        for ix, node, job, d in walk.followed:
            if d < jobs.get(job, d + 1) and (ix, node) in kept:
                jobs[job] = d
        fields = []
        datasets: dict[str, int] = {}
        for d, node, ix in within:
            _, parent, ds, fname, exists = nearest[(ix, node)]
            if exists:
                fields.append(ReachedField(starts[ix], node, ds, fname, d, parent))
                if ds not in datasets:  # nearest first: the first time is the nearest
                    datasets[ds] = d
        return fields, datasets, jobs, truncated

    def _walk(self, starts: list[str], depth: int, budget: int) -> Walk:
        """The walk as one recursive query. A walk row holds the origin's position in the list
        and the edge's rowid (the cheapest probe SQLite has), not their text: the UNION
        compares every new row with the earlier ones, and short keys make the walk 15-40%
        faster. The edge gives the parent (its source), the target's dataset and field and
        the job once at the end, in the same query, with whether that dataset exists (an
        EXISTS probes the id index alone, a third of the cost of joining its row for names a
        page reads anyway); the nearest row per field is kept in Python, cheaper than GROUP BY
        plus joins on text ids."""
        rows = self._db.execute(
            "WITH RECURSIVE walk(origin, node, depth, edge) AS ("
            " SELECT key, value, 0, NULL FROM json_each(?1) UNION"
            " SELECT w.origin, e.target_id, w.depth + 1, e.rowid FROM walk w"
            " JOIN column_edges e ON e.source_id = w.node WHERE w.depth <= ?2 ORDER BY 3 LIMIT ?3)"
            " SELECT w.origin, w.node, w.depth, e.source_id, e.job_id, e.target_dataset,"
            " e.target_field, EXISTS (SELECT 1 FROM datasets d WHERE d.id = e.target_dataset)"
            " FROM walk w JOIN column_edges e ON e.rowid = w.edge",
            (orjson.dumps(starts).decode(), depth, budget),
        ).fetchall()
        nearest: dict[tuple[int, str], tuple[int, str, str, str, int]] = {}
        for ix, node, d, parent, _, ds, fname, exists in rows:
            seen = nearest.get((ix, node))
            if seen is None or (d, parent) < seen[:2]:  # the smallest parent: a stable path
                nearest[(ix, node)] = (d, parent, ds, fname, exists)
        return Walk(len(rows), nearest, [(ix, node, job, d) for ix, node, d, _, job, *_ in rows
                                         if job])

    def _graph_version(self) -> int:
        """``graph_version``: triggers on ``column_edges``, ``edges`` and ``datasets`` bump it."""
        return int(self._db.execute("SELECT n FROM graph_version").fetchone()[0])

    def _load_adjacency(self) -> Adjacency:
        """From one read transaction on a connection of its own, so the copy is one state of
        the graph."""
        db = self._connect()
        try:
            db.execute("PRAGMA query_only=ON")
            db.execute("BEGIN")
            try:
                return Adjacency(
                    db.execute("SELECT n FROM graph_version").fetchone()[0],
                    db.execute("SELECT source_id, source_dataset, source_field, target_id,"
                               " target_dataset, target_field, job_id FROM column_edges"),
                    db.execute("SELECT src, dst FROM edges"),
                    (i for (i,) in db.execute("SELECT id FROM datasets")))
            finally:
                db.execute("COMMIT")
        finally:
            db.close()

    def _blind_beyond(self, seeds: dict[str, int]) -> bool:
        """Whether a job reading one of ``seeds`` writes a dataset outside them that has no
        column lineage into it (one query that stops at the first such dataset). Column
        lineage is probed first: that covering index answers most rows a third faster than
        the seeds' list would."""
        return self._db.execute(
            "SELECT 1 FROM json_each(?1) s JOIN edges i ON i.src = s.key"
            " JOIN edges o ON o.src = i.dst"
            " WHERE NOT EXISTS (SELECT 1 FROM column_edges c WHERE c.target_dataset = o.dst)"
            " AND o.dst NOT IN (SELECT key FROM json_each(?1)) LIMIT 1",
            (orjson.dumps(seeds).decode(),)).fetchone() is not None

    def _blind_downstream(self, seeds: dict[str, int], depth: int, budget: int, limit: int,
                          datasets: dict[str, int], jobs: dict[str, int]) -> bool:
        """Adds the datasets reached from ``seeds`` through jobs, across datasets without column
        lineage, and the jobs that write them; True when the search was cut short."""
        truncated = False
        for i, d, via, visits in self._db.execute(
            "WITH RECURSIVE reach(ds, depth, job) AS ("
            " SELECT key, value, NULL FROM json_each(?1) UNION"
            " SELECT o.dst, r.depth + 1, i.dst FROM reach r JOIN edges i ON i.src = r.ds"
            " JOIN edges o ON o.src = i.dst WHERE r.depth <= ?2 AND NOT EXISTS"
            "  (SELECT 1 FROM column_edges c WHERE c.target_dataset = o.dst)"
            " ORDER BY 2 LIMIT ?3)"
            " SELECT r.ds, min(r.depth), json_group_array(DISTINCT r.job),"
            " sum(count(*)) OVER () FROM reach r JOIN datasets d ON d.id = r.ds"
            " WHERE r.job IS NOT NULL AND NOT r.ds IN (SELECT key FROM json_each(?1))"
            " GROUP BY r.ds ORDER BY 2, 1",
                (orjson.dumps(seeds).decode(), depth, budget)):
            truncated |= visits >= budget
            if d > depth or len(datasets) >= limit:
                truncated = True
            else:
                datasets[i] = d
                for job in orjson.loads(via):
                    if d < jobs.get(job, d + 1):
                        jobs[job] = d
        return truncated
