"""Impact analysis: everything that reads what changes in a dataset, in three queries."""

from __future__ import annotations

from collections.abc import Sequence

from headwater.catalog.model import Downstream, ReachedField
from headwater.catalog.neo4j.connection import Connection


class Impact(Connection):
    def downstream(self, dataset_id: str, field_ids: Sequence[str], depth: int, limit: int
                   ) -> Downstream:
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
        # 2. Dataset level: from the changed dataset and those fields' datasets, through jobs,
        # into datasets with no column lineage (theirs would say what they read). The first
        # step is a plain expansion (usually empty: most writers report column lineage); only
        # what it finds is searched on, breadth first.
        seeds = {dataset_id: 0} | datasets
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
        return Downstream(fields, datasets, jobs, truncated)
