"""Impact analysis: what breaks downstream if a dataset's schema changes.

Column level where column lineage exists (one bounded walk per changed field), dataset level
for downstream datasets whose producers never reported column lineage — and the findings say
which is which.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from headwater.catalog import Graph, Store
from headwater.catalog.ids import dataset_id, field_id

IMPACT_DEPTH = 20
IMPACT_NODES = 20_000


@dataclass
class SchemaChange:
    namespace: str
    name: str
    drop_fields: list[str] = field(default_factory=list)
    rename_fields: list[tuple[str, str]] = field(default_factory=list)
    change_types: list[tuple[str, str]] = field(default_factory=list)
    drop_dataset: bool = False


@dataclass
class AffectedField:
    namespace: str
    name: str
    field: str
    depth: int
    path: list[str]  # field ids from the changed field to this one


@dataclass
class AffectedDataset:
    namespace: str
    name: str
    depth: int
    owners: list[str]


@dataclass
class ImpactReport:
    breaking: bool
    affected_fields: list[AffectedField]
    affected_datasets: list[AffectedDataset]
    affected_jobs: list[str]  # job ids
    findings: list[str]


class ImpactError(ValueError):
    """The change names something the catalog does not know; the message says what."""


_WIDTH = {"tinyint": 1, "smallint": 2, "int2": 2, "int": 4, "integer": 4, "int4": 4,
          "bigint": 8, "int8": 8, "real": 4, "float4": 4, "float": 8, "double": 8, "float8": 8,
          "double precision": 8}


def narrows(old: str | None, new: str) -> bool | None:
    """True when ``new`` holds less than ``old`` (bigint→int, varchar(50)→varchar(20));
    None when the types cannot be compared."""
    if not old:
        return None
    a, b = old.strip().lower(), new.strip().lower()
    if a in _WIDTH and b in _WIDTH:
        return _WIDTH[b] < _WIDTH[a]
    sized = re.compile(r"^(\w[\w ]*)\((\d+)(?:,\s*(\d+))?\)$")
    ma, mb = sized.match(a), sized.match(b)
    if ma and mb and ma.group(1) == mb.group(1):
        return int(mb.group(2)) < int(ma.group(2)) or int(mb.group(3) or 0) < int(ma.group(3) or 0)
    if a != b and (a in _WIDTH or ma) and (b in ("text", "string", "varchar") or b.startswith("varchar")):
        return False  # anything fits in text
    return None if a != b else False


def _paths(graph: Graph, start: str) -> dict[str, list[str]]:
    """Shortest path from start to every node, from the walk's own edges (no extra query)."""
    out_edges: dict[str, list[str]] = {}
    for e in graph.edges:
        out_edges.setdefault(e.source, []).append(e.target)
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(out_edges.get(node, ())):
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return paths


def analyse(store: Store, change: SchemaChange) -> ImpactReport:
    ds = store.dataset(change.namespace, change.name)
    if ds is None:
        raise ImpactError(f"no dataset {change.namespace!r} / {change.name!r} in the catalog")
    fields = {f.name: f for f in store.fields([ds.id])[ds.id]}
    changed: dict[str, str] = {}  # field -> what happens to it
    for f in change.drop_fields:
        changed[f] = "dropped"
    for old, new in change.rename_fields:
        changed[old] = f"renamed to {new}"
    for f, t in change.change_types:
        changed[f] = f"retyped to {t}"
    if change.drop_dataset:
        changed = {f: "dropped with the dataset" for f in fields} | changed
    unknown = sorted(set(changed) - set(fields))
    if unknown and fields:
        raise ImpactError(f"{ds.name} has no field {', '.join(map(repr, unknown))}; its fields: "
                          + ", ".join(fields))
    findings: list[str] = []

    # Column level: one downstream walk per changed field.
    affected: dict[str, AffectedField] = {}
    field_datasets: dict[str, int] = {}  # dataset id -> min depth in column hops
    inherited_from: dict[str, set[str]] = {}
    for fname in sorted(changed):
        start = field_id(ds.namespace, ds.name, fname)
        g = store.walk(start, "column", "DOWNSTREAM", IMPACT_DEPTH, IMPACT_NODES)
        if g.truncated:
            findings.append(f"the downstream lineage of {fname} is larger than {IMPACT_NODES} "
                            "fields or deeper than 20 hops: the report is incomplete")
        paths = _paths(g, start)
        for n in g.nodes:
            if n.depth == 0:
                continue
            if n.id not in affected or n.depth < affected[n.id].depth:
                affected[n.id] = AffectedField(n.namespace, n.name, n.field or "", n.depth,
                                               paths.get(n.id, [start, n.id]))
            did = dataset_id(n.namespace, n.name)
            field_datasets[did] = min(field_datasets.get(did, n.depth), n.depth)
            inherited_from.setdefault(n.id, set()).add(fname)

    # Dataset level: downstream datasets with no column lineage at all are assumed affected.
    dgraph = store.walk(ds.id, "dataset", "DOWNSTREAM", IMPACT_DEPTH, IMPACT_NODES)
    ddepth = {n.id: n.depth for n in dgraph.nodes}
    down_ids = [n.id for n in dgraph.nodes if n.type == "DATASET" and n.id != ds.id]
    has_lineage = store.column_lineage_targets(down_ids)
    dataset_level = [i for i in down_ids if i not in has_lineage and i not in field_datasets]
    for i in dataset_level:
        findings.append(f"no column lineage reaches {i}: it is counted as affected at dataset "
                        "level (its producer did not report which columns it reads)")

    affected_ids = {**field_datasets, **{i: ddepth[i] // 2 for i in dataset_level}}
    records = {d.id: d for d in store.datasets_by_id(list(affected_ids), facets=False)
               if d is not None}
    datasets = sorted(
        (AffectedDataset(r.namespace, r.name, affected_ids[r.id], r.owners)
         for r in records.values()),
        key=lambda a: (a.depth, a.namespace, a.name))

    # Jobs: consumers of the changed dataset or of an affected one that write an affected one;
    # direct consumers without column lineage count too (dataset level).
    sources = [ds.id, *affected_ids]
    consumers = store.dataset_jobs(sources)
    candidate_jobs = sorted({j for i in sources for j in consumers[i][1]})
    outputs = store.job_datasets(candidate_jobs)
    affected_set, direct = set(affected_ids), set(consumers[ds.id][1])
    jobs = sorted(j for j in candidate_jobs
                  if not affected_set.isdisjoint(outputs[j][1])
                  or (j in direct and has_lineage.isdisjoint(outputs[j][1])))

    # Findings a reviewer should read.
    for fname, what in sorted(changed.items()):
        spec = fields.get(fname)
        if spec and spec.classifications and "retyped" not in what:
            heirs = [a for fid, a in affected.items() if fname in inherited_from[fid]]
            for c in spec.classifications:
                for a in heirs:
                    findings.append(f"{a.namespace} {a.name}.{a.field} would lose its inherited "
                                    f"{c} classification ({fname} is {what})")
        if "retyped" in what and spec:
            new_type = dict(change.change_types)[fname]
            if narrows(spec.type, new_type):
                findings.append(f"{fname} narrows from {spec.type} to {new_type}: downstream readers "
                                "of it may overflow or truncate")
    watched = {q.field for q in store.quality_results(ds.id, 1000) if q.field}
    for fname in sorted(watched & {f for f, w in changed.items() if "retyped" not in w}):
        findings.append(f"a quality assertion watches {fname}, which is {changed[fname]}")
    report_fields = sorted(affected.values(), key=lambda a: (a.depth, a.namespace, a.name, a.field))
    breaking = bool(report_fields or jobs or datasets)
    if not breaking:
        findings.append("nothing downstream reads what changes")
    return ImpactReport(breaking, report_fields, datasets, jobs, findings)
