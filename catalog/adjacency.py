"""An in-memory copy of the lineage graph for impact analysis: integer adjacency (CSR: one
array of offsets, one of targets) of the column derivations and of the job edges, each id held
once. Both stores build it from rows (``Adjacency(version, derivations, job_edges, datasets)``)
and walk it instead of running their queries; each store's impact analysis says what it answers
(``catalog/embedded/impact.py``, ``catalog/neo4j/impact.py``), and uses it only while the
store's graph counter is the one it was built at (``InMemoryGraph``). When the graph changes,
the next analysis runs the queries and a thread builds a new copy.

On the 100,000-dataset benchmark graph (400,000 column derivations, 200,000 job edges) a copy
takes ~33 MB and 4-7 s of one core to build from SQLite on a loaded 2-core machine
(docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from headwater.catalog.ids import escape
from headwater.catalog.model import ReachedField


@dataclass(slots=True)
class Walk:
    """What the recursive walk of ``ImpactReads.downstream`` returns, per origin: its rows
    reduced to the nearest (depth, smallest parent) per field, and every (field, job, depth)
    of the derivations it followed, in walk order."""

    rows: int  # the walk's rows with an edge, as the query would count them
    nearest: dict[tuple[int, str], tuple[int, str, str, str, int]]  # (origin, field) -> ...
    followed: list[tuple[int, str, str, int]]  # (origin, field, job, depth)


def _csr(n: int, sources: array[int], targets: array[int], payloads: array[int]
         ) -> tuple[array[int], array[int], array[int]]:
    """Offsets (n + 1), then the targets and payloads of the edges by source (a counting
    sort: no tuple per edge)."""
    start = array("i", [0]) * (n + 1)
    for s in sources:
        start[s + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    at = array("i", start)
    out = array("i", [0]) * len(targets)
    carried = array("i", [0]) * len(targets)
    for s, t, x in zip(sources, targets, payloads, strict=True):
        k = at[s]
        out[k], carried[k] = t, x
        at[s] = k + 1
    return start, out, carried


class Adjacency:
    """Fields are numbers: a field's id is not kept but spelt from its dataset's id and its
    name (``catalog.ids.field_id``), except for the odd stored id spelt otherwise; datasets and
    jobs are numbers with their ids in one list and one dict."""

    def __init__(self, version: int,
                 derivations: Iterable[tuple[str, str, str, str, str, str, str | None]],
                 job_edges: Iterable[tuple[str, str]], datasets: Iterable[str]) -> None:
        """The copy of one state of the graph, ``version`` of the store's counter: its column
        derivations as (source id, source dataset, source field, target id, target dataset,
        target field, job or None), its job edges as (from, to) (dataset to job, job to
        dataset) and the ids of the datasets that exist, each read once, in that order."""
        self.version = version
        field: dict[str, int] = {}  # while building only
        node: dict[str, int] = {}  # datasets and jobs
        names: dict[str, str] = {}  # one copy of each field name
        of: list[tuple[int, str]] = []  # per field: (dataset, name)

        def fid(i: str, ds: str, name: str) -> int:
            n = field.get(i)
            if n is None:
                n = field[i] = len(field)
                of.append((nid(ds), names.setdefault(name, name)))
            return n

        def nid(i: str) -> int:
            n = node.get(i)
            if n is None:
                n = node[i] = len(node)
            return n

        sources, targets, jobs = array("i"), array("i"), array("i")
        for src, sds, sname, dst, tds, tname, job in derivations:
            f = field.get(src)  # inline: two million look-ups on the benchmark graph
            sources.append(fid(src, sds, sname) if f is None else f)
            f = field.get(dst)
            targets.append(fid(dst, tds, tname) if f is None else f)
            if job:
                n = node.get(job)
                jobs.append(nid(job) if n is None else n)
            else:
                jobs.append(-1)
        froms, tos = array("i"), array("i")
        for src, dst in job_edges:
            froms.append(nid(src))
            tos.append(nid(dst))
        exists = [node[i] for i in datasets if i in node]
        self.nodes = list(node)
        self.node_index = node
        nf, nn = len(field), len(self.nodes)
        self.dataset = array("i", (ds for ds, _ in of))
        self.field_name = [name for _, name in of]
        self.odd: dict[int, str] = {}  # field -> its stored id, where not the one spelt
        for stored, f in field.items():
            if self._spelt(f) != stored:
                self.odd[f] = stored
        ids = list(field)
        field.clear()
        self.order = array("i", sorted(range(nf), key=ids.__getitem__))  # fields in id order
        self.rank = array("i", [0]) * nf  # each field's place in that order
        for r, f in enumerate(self.order):
            self.rank[f] = r
        del ids
        self.out_start, self.out, self.out_job = _csr(nf, sources, targets, jobs)
        self.link_start, self.link, _ = _csr(nn, froms, tos, array("i", [0]) * len(tos))
        self.exists = bytearray(nn)
        for n in exists:
            self.exists[n] = 1
        self.lineage_into = bytearray(nn)  # datasets that column lineage reaches
        for t in targets:
            self.lineage_into[self.dataset[t]] = 1

    def _spelt(self, f: int) -> str:
        return f"datasetField:{self.nodes[self.dataset[f]][8:]}:{escape(self.field_name[f])}"

    def field_id(self, f: int) -> str:
        return self.odd.get(f) or self._spelt(f)

    def find(self, field_id: str) -> int | None:
        """The field of an id (a binary search of the id order)."""
        order, lo, hi = self.order, 0, len(self.order)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.field_id(order[mid]) < field_id:
                lo = mid + 1
            else:
                hi = mid
        return order[lo] if lo < len(order) and self.field_id(order[lo]) == field_id else None

    def reach(self, starts: Sequence[str], depth: int, limit: int, budget: int
              ) -> tuple[list[ReachedField], dict[str, int], dict[str, int]] | None:
        """``ImpactReads.downstream``'s fields, datasets (column level) and jobs when nothing
        cuts the walk short (the usual case), in integers until the answer; None when the
        budget, the depth or the limit would cut it (``walk`` answers then)."""
        rows = len(starts)
        reached: list[tuple[int, int, int, int, int]] = []  # (depth, rank, origin, field, parent)
        jobs: dict[int, int] = {}
        rank = self.rank
        for ix, sid in enumerate(starts):
            s = self.find(sid)
            if s is None:
                continue
            frontier = [s]
            seen: set[int] = set()
            k = 0
            while frontier and k <= depth:
                found, frontier, via, made = self._level(frontier, seen)
                rows += made
                for _, j in via:
                    if jobs.get(j, k + 2) > k + 1:
                        jobs[j] = k + 1
                if rows >= budget or (found and k == depth):
                    return None  # cut by the budget, or fields beyond the depth
                for t, p in found.items():
                    seen.add(t)
                    reached.append((k + 1, rank[t], ix, t, p))
                k += 1
        if len(reached) > limit:
            return None
        reached.sort()
        fields = []
        datasets: dict[str, int] = {}
        dataset, exists, nodes, name = self.dataset, self.exists, self.nodes, self.field_name
        spelt: dict[int, str] = {}  # a parent is usually a reached field too
        for d, _, ix, t, p in reached:
            ds = dataset[t]
            if exists[ds]:
                i = nodes[ds]
                tid = spelt[t] = self.field_id(t)
                pid = spelt.get(p) or self.field_id(p)
                fields.append(ReachedField(starts[ix], tid, i, name[t], d, pid))
                if i not in datasets:
                    datasets[i] = d
        return fields, datasets, {nodes[j]: d for j, d in jobs.items()}

    def _level(self, frontier: list[int], seen: set[int]
               ) -> tuple[dict[int, int], list[int], list[tuple[int, int]], int]:
        """One level of the walk from ``frontier``: the fields reached for the first time
        (each with its smallest parent in id order), every field reached (the next
        frontier), the (field, job) of each derivation followed that has a job, and the
        rows the query would make for it."""
        out_start, out, out_job, rank = self.out_start, self.out, self.out_job, self.rank
        found: dict[int, int] = {}
        step: set[int] = set()
        via: list[tuple[int, int]] = []
        rows = 0
        for p in frontier:
            a, b = out_start[p], out_start[p + 1]
            rows += b - a
            for e in range(a, b):
                t = out[e]
                step.add(t)
                j = out_job[e]
                if j >= 0:
                    via.append((t, j))
                if t not in seen:
                    q = found.get(t)
                    if q is None or rank[p] < rank[q]:
                        found[t] = p
        return found, list(step), via, rows

    def walk(self, starts: Sequence[str], depth: int, budget: int) -> Walk | None:
        """The walk of the recursive query, level by level from each origin; None when it
        would reach ``budget`` rows (the query's cut: let the query answer)."""
        rows = len(starts)
        nearest: dict[tuple[int, str], tuple[int, str, str, str, int]] = {}
        followed: list[tuple[int, str, str, int]] = []
        nodes, dataset, name, exists = self.nodes, self.dataset, self.field_name, self.exists
        ids = self.field_id
        for ix, sid in enumerate(starts):
            s = self.find(sid)
            if s is None:
                continue
            frontier = [s]  # the fields some walk of length k reaches
            seen: set[int] = set()  # reached at some depth >= 1
            k = 0
            while frontier and k <= depth:
                found, frontier, via, made = self._level(frontier, seen)
                rows += made
                followed += [(ix, ids(t), nodes[j], k + 1) for t, j in via]
                if rows >= budget:
                    return None
                for t, p in found.items():
                    seen.add(t)
                    ds = dataset[t]
                    nearest[(ix, ids(t))] = (k + 1, ids(p), nodes[ds], name[t], exists[ds])
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


log = logging.getLogger("headwater.store")
_building = threading.Lock()


class InMemoryGraph:
    """A store's in-memory copy of its graph, kept honest by the store's graph counter: each
    analysis reads the counter (``_graph_version``) and uses the copy only if it was built at
    that number. Otherwise the store's queries answer and a copy is built
    (``_load_adjacency``): in the background (``adjacency`` "background", the default; while
    the graph keeps changing, a build at most every ten times as long as the last took, so
    building costs at most a tenth of a core), before answering ("sync"), or never ("off")."""

    adjacency = "background"  # or "sync", "off"
    _adjacency: Adjacency | None = None
    _adjacency_pending = False
    _adjacency_next = 0.0  # no build before (monotonic time)

    def _graph_version(self) -> int | None:
        """The store's graph counter now (None: the store keeps none yet)."""
        raise NotImplementedError

    def _load_adjacency(self) -> Adjacency:
        """A copy of one state of the graph, with the counter it was read at."""
        raise NotImplementedError

    def _adjacency_now(self) -> Adjacency | None:
        """The copy when it is current (one read of the counter); otherwise None, and a copy
        is built as ``adjacency`` says."""
        if self.adjacency == "off":
            return None
        version = self._graph_version()
        if version is None:
            return None
        current = self._adjacency
        if current is not None and current.version == version:
            return current
        if self.adjacency == "sync":
            self._build_adjacency()
            current = self._adjacency
            return current if current is not None and current.version == version else None
        with _building:  # one build at a time, at most a tenth of the time
            if self._adjacency_pending or time.monotonic() < self._adjacency_next:
                return None
            self._adjacency_pending = True
        threading.Thread(target=self._build_adjacency, name="impact-adjacency",
                         daemon=True).start()
        return None

    def _build_adjacency(self) -> None:
        started = time.monotonic()
        try:
            self._adjacency = self._load_adjacency()
        except Exception:  # the queries answer meanwhile; a later analysis tries again
            log.exception("impact analysis: building the in-memory lineage graph failed")
        finally:
            with _building:
                self._adjacency_pending = False
                done = time.monotonic()
                self._adjacency_next = done + 9 * (done - started)
