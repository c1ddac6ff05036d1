"""An in-memory copy of the lineage graph for impact analysis: integer adjacency (CSR: one
array of offsets, one of targets) of the column derivations and of the job edges, each id held
once. Impact analysis walks it instead of running its recursive query; it answers exactly what
the query answers (``catalog/embedded/impact.py`` says what that is) and is used only while the
store's graph counter (``graph_version``, kept by triggers) is the one it was built at. When
the graph changes, the next analysis runs the query and a thread builds a new copy.

On the 100,000-dataset benchmark graph (400,000 column derivations, 200,000 job edges) a copy
takes about 1.5 s to build and 60 MB (docs/benchmarks.md).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from headwater.catalog.model import ReachedField


@dataclass(slots=True)
class Walk:
    """What the recursive walk of ``ImpactReads.downstream`` returns, per origin: its rows
    reduced to the nearest (depth, smallest parent) per field, and every (field, job, depth)
    of the derivations it followed, in walk order."""

    rows: int  # the walk's rows with an edge, as the query would count them
    nearest: dict[tuple[int, str], tuple[int, str, str, str, int]]  # (origin, field) -> ...
    followed: list[tuple[int, str, str, int]]  # (origin, field, job, depth)


def _csr(n: int, pairs: list[tuple[int, int, int]]) -> tuple[array[int], array[int], array[int]]:
    """Offsets (n + 1), targets and a payload per edge, from (source, target, payload)."""
    pairs.sort()
    start = array("l", [0]) * (n + 1)
    for s, _, _ in pairs:
        start[s + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    return start, array("l", [t for _, t, _ in pairs]), array("l", [p for _, _, p in pairs])


class Adjacency:
    def __init__(self, db: sqlite3.Connection) -> None:
        """Built from one read transaction, so the copy is one state of the graph."""
        db.execute("BEGIN")
        try:
            self.version: int = db.execute("SELECT n FROM graph_version").fetchone()[0]
            self._load(db)
        finally:
            db.execute("COMMIT")

    def _load(self, db: sqlite3.Connection) -> None:
        names: dict[str, str] = {}  # one copy of each string
        field: dict[str, int] = {}
        node: dict[str, int] = {}  # datasets and jobs

        def fid(i: str) -> int:
            n = field.get(i)
            if n is None:
                n = field[i] = len(field)
            return n

        def nid(i: str) -> int:
            n = node.get(i)
            if n is None:
                n = node[i] = len(node)
            return n

        derivations = []
        dataset_of: dict[int, int] = {}
        name_of: dict[int, str] = {}
        for src, dst, ds, fname, job in db.execute(
                "SELECT source_id, target_id, target_dataset, target_field, job_id"
                " FROM column_edges"):
            t = fid(dst)
            if t not in dataset_of:
                dataset_of[t] = nid(ds)
                name_of[t] = names.setdefault(fname, fname)
            derivations.append((fid(src), t, nid(job) if job else -1))
        into = {dataset_of[t] for t in dataset_of}  # datasets that column lineage reaches
        links = [(nid(src), nid(dst), 0) for src, dst in db.execute("SELECT src, dst FROM edges")]
        exists = {node[i] for (i,) in db.execute("SELECT id FROM datasets") if i in node}
        self.fields = list(field)
        self.nodes = list(node)
        nf, nn = len(self.fields), len(self.nodes)
        self.dataset = array("l", (dataset_of.get(i, -1) for i in range(nf)))
        self.field_name = [name_of.get(i, "") for i in range(nf)]
        self.field_index = field
        self.rank = array("l", [0]) * nf  # each field's place in id order, to sort by
        for r, i in enumerate(sorted(range(nf), key=self.fields.__getitem__)):
            self.rank[i] = r
        self.node_index = node
        self.out_start, self.out, self.out_job = _csr(nf, derivations)
        self.link_start, self.link, _ = _csr(nn, links)
        self.exists = bytearray(nn)
        for i in exists:
            self.exists[i] = 1
        self.lineage_into = bytearray(nn)
        for i in into:
            self.lineage_into[i] = 1

    def reach(self, starts: Sequence[str], depth: int, limit: int, budget: int
              ) -> tuple[list[ReachedField], dict[str, int], dict[str, int]] | None:
        """``ImpactReads.downstream``'s fields, datasets (column level) and jobs when nothing
        cuts the walk short (the usual case), in integers until the answer; None when the
        budget, the depth or the limit would cut it (``walk`` answers then)."""
        rows = len(starts)
        reached: list[tuple[int, int, int, int, int]] = []  # (depth, rank, origin, field, parent)
        jobs: dict[int, int] = {}
        out_start, out, out_job, rank, ids = self.out_start, self.out, self.out_job, self.rank, \
            self.fields
        for ix, sid in enumerate(starts):
            s = self.field_index.get(sid)
            if s is None:
                continue
            frontier = [s]
            seen: set[int] = set()
            k = 0
            while frontier and k <= depth:
                found: dict[int, int] = {}
                step: set[int] = set()
                for p in frontier:
                    a, b = out_start[p], out_start[p + 1]
                    rows += b - a
                    for e in range(a, b):
                        t = out[e]
                        step.add(t)
                        j = out_job[e]
                        if j >= 0 and jobs.get(j, k + 2) > k + 1:
                            jobs[j] = k + 1
                        if t not in seen:
                            q = found.get(t)
                            if q is None or rank[p] < rank[q]:
                                found[t] = p
                if rows >= budget or (found and k == depth):
                    return None  # cut by the budget, or fields beyond the depth
                d = k + 1
                for t, p in found.items():
                    seen.add(t)
                    reached.append((d, rank[t], ix, t, p))
                frontier = list(step)
                k += 1
        if len(reached) > limit:
            return None
        reached.sort()
        fields = []
        datasets: dict[str, int] = {}
        dataset, exists, nodes, name = self.dataset, self.exists, self.nodes, self.field_name
        for d, _, ix, t, p in reached:
            ds = dataset[t]
            if exists[ds]:
                i = nodes[ds]
                fields.append(ReachedField(starts[ix], ids[t], i, name[t], d, ids[p]))
                if i not in datasets:
                    datasets[i] = d
        return fields, datasets, {nodes[j]: d for j, d in jobs.items()}

    def walk(self, starts: Sequence[str], depth: int, budget: int) -> Walk | None:
        """The walk of the recursive query, level by level from each origin; None when it
        would reach ``budget`` rows (the query's cut: let the query answer)."""
        rows = len(starts)
        nearest: dict[tuple[int, str], tuple[int, str, str, str, int]] = {}
        followed: list[tuple[int, str, str, int]] = []
        ids, out_start, out, out_job = self.fields, self.out_start, self.out, self.out_job
        nodes, dataset, name, exists = self.nodes, self.dataset, self.field_name, self.exists
        for ix, sid in enumerate(starts):
            s = self.field_index.get(sid)
            if s is None:
                continue
            frontier = [s]  # the fields some walk of length k reaches
            seen: set[int] = set()  # reached at some depth >= 1
            k = 0
            while frontier and k <= depth:
                found: dict[int, int] = {}  # reached first at k + 1 -> its smallest parent
                step: set[int] = set()
                for p in frontier:
                    a, b = out_start[p], out_start[p + 1]
                    rows += b - a
                    for e in range(a, b):
                        t = out[e]
                        step.add(t)
                        j = out_job[e]
                        if j >= 0:
                            followed.append((ix, ids[t], nodes[j], k + 1))
                        if t not in seen:
                            q = found.get(t)
                            if q is None or self.rank[p] < self.rank[q]:
                                found[t] = p
                if rows >= budget:
                    return None
                for t, p in found.items():
                    seen.add(t)
                    ds = dataset[t]
                    nearest[(ix, ids[t])] = (k + 1, ids[p], nodes[ds], name[t], exists[ds])
                frontier = list(step)
                k += 1
        return Walk(rows - len(starts), nearest, followed)

    def blind_beyond(self, seeds: dict[str, int]) -> bool:
        """Whether a job reading one of ``seeds`` writes a node outside them that column
        lineage does not reach (``ImpactReads._blind_beyond``)."""
        index, start, link = self.node_index, self.link_start, self.link
        into, nodes = self.lineage_into, self.nodes
        for sid in seeds:
            s = index.get(sid)
            if s is None:
                continue
            for e in range(start[s], start[s + 1]):
                j = link[e]
                for f in range(start[j], start[j + 1]):
                    o = link[f]
                    if not into[o] and nodes[o] not in seeds:
                        return True
        return False
