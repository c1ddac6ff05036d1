"""Impact analysis: what breaks downstream if a dataset's schema changes.

Column level where column lineage exists, dataset level for downstream datasets whose
producers never reported column lineage (and the findings say which is which). The store answers
everything downstream in a fixed number of queries (``Store.downstream``); this module turns it
into the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from headwater.catalog import Store
from headwater.catalog.errors import Invalid
from headwater.catalog.ids import field_id
from headwater.catalog.model import ReachedField

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


@dataclass(slots=True)
class AffectedField:
    namespace: str
    name: str
    field: str
    depth: int
    path: list[str]  # field ids from the changed field to this one


@dataclass(slots=True)
class AffectedDataset:
    namespace: str
    name: str
    depth: int
    owners: list[str]


@dataclass(slots=True)
class AffectedCheck:
    """A quality check (an OpenLineage assertion, a Great Expectations expectation) that reads
    something the change affects: a field, or, with no field, a whole affected dataset."""

    namespace: str
    name: str
    field: str | None
    assertion: str
    source: str
    last_success: bool | None
    depth: int
    check_name: str | None = None  # the check's own name (a dbt test's), when it has one


@dataclass
class ImpactReport:
    """Every list nearest first (depth, then id): a page is a slice of that stable order."""

    breaking: bool
    affected_fields: list[AffectedField]
    affected_datasets: list[AffectedDataset]
    affected_jobs: list[str]  # job ids, ordered by the depth of what they write, then id
    affected_checks: list[AffectedCheck]
    findings: list[str]


class ImpactError(Invalid):
    """The change names something the catalog does not know; the message says what."""

    def __init__(self, message: str) -> None:
        super().__init__([{"pointer": "", "message": message}])
        self.message = message

    def __str__(self) -> str:
        return self.message


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


def analyse(store: Store, change: SchemaChange) -> ImpactReport:
    """The whole report, every list in full (``assess`` answers it a page at a time)."""
    return assess(store, change).whole()


class PagedReport:
    """An impact report held as ids and depths, every list in its full stable order (nearest
    first: depth, then id), so totals cost nothing; the rows of a page (names, paths, owners)
    are built when asked, from a store read or two for that page alone. A page read later
    than the analysis shows the catalog as it then is (an owner added since, say)."""

    def __init__(self, store: Store, breaking: bool, findings: list[str],
                 fields: list[ReachedField], parent: dict[tuple[str, str], str],
                 datasets: list[tuple[str, int]], jobs: list[str], checks: list[AffectedCheck],
                 names: dict[str, tuple[str, str]]) -> None:
        self.store = store
        self.breaking = breaking
        self.findings = findings
        self._fields = fields  # nearest first
        self._parent = parent  # (origin, field id) -> the field before it on a shortest path
        self._datasets = datasets  # (id, depth), nearest first
        self._jobs = jobs
        self._checks = checks
        self._names = names  # dataset id -> (namespace, name), those already known

    def totals(self) -> tuple[int, int, int, int]:
        """Fields, datasets, jobs, checks."""
        return len(self._fields), len(self._datasets), len(self._jobs), len(self._checks)

    def _named(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        missing = [i for i in dict.fromkeys(ids) if i not in self._names]
        if missing:
            for i, (ns, name, *_) in self.store.node_names("dataset", missing).items():
                self._names[i] = (ns, name)
        return self._names

    def fields(self, first: int, offset: int = 0) -> list[AffectedField]:
        rows = self._fields[offset:offset + first]
        names = self._named(r.dataset_id for r in rows)
        out = []
        for r in rows:
            origin, node = r.origin, r.id
            path = [node]
            while node != origin and len(path) <= r.depth:
                node = self._parent.get((origin, node), origin)
                path.append(node)
            path.reverse()
            ns, name = names.get(r.dataset_id, ("", ""))
            out.append(AffectedField(ns, name, r.field, r.depth, path))
        return out

    def datasets(self, first: int, offset: int = 0) -> list[AffectedDataset]:
        rows = self._datasets[offset:offset + first]
        if not rows:
            return []
        ids = [i for i, _ in rows]
        names = self._named(ids)
        owners = self.store.tags_owners(ids)
        return [AffectedDataset(*names.get(i, ("", "")), depth=d, owners=owners[i][1])
                for i, d in rows]

    def jobs(self, first: int, offset: int = 0) -> list[str]:
        return self._jobs[offset:offset + first]

    def checks(self, first: int, offset: int = 0) -> list[AffectedCheck]:
        return self._checks[offset:offset + first]

    def whole(self) -> ImpactReport:
        everything = max(self.totals())
        return ImpactReport(self.breaking, self.fields(everything), self.datasets(everything),
                            self.jobs(everything), self.checks(everything), self.findings)


def assess(store: Store, change: SchemaChange) -> PagedReport:
    """The report of ``change`` with totals and pages (``ImpactError`` for an unknown dataset
    or field): the analysis reads ids and depths; names and owners are read per page."""
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

    starts = [field_id(ds.namespace, ds.name, f) for f in sorted(changed)]
    down = store.downstream(ds.id, starts, IMPACT_DEPTH, IMPACT_NODES)
    if down.truncated:
        findings.append(f"more than {IMPACT_NODES} fields or datasets are downstream, or lineage "
                        f"runs deeper than {IMPACT_DEPTH} hops: the report is incomplete")

    # A field reached from several changed fields is reported once, at its nearest; its path
    # is rebuilt (for a page) from the parents the store returned for that origin.
    # The store lists them nearest first, then by id: the first time a field comes is its
    # nearest, and the report's order is the store's.
    parent = {(r.origin, r.id): r.parent for r in down.fields}
    nearest: dict[str, ReachedField] = {}
    for r in down.fields:
        if r.id not in nearest:
            nearest[r.id] = r
    ordered = list(nearest.values())
    column_level = {r.dataset_id for r in down.fields}
    for _, i in sorted((d, i) for i, d in down.datasets.items() if i not in column_level):
        findings.append(f"no column lineage reaches {i}: it is counted as affected at dataset "
                        "level (its producer did not report which columns it reads)")
    datasets = sorted(down.datasets.items(), key=lambda x: (x[1], x[0]))
    jobs = sorted(down.jobs, key=lambda j: (down.jobs[j], j))
    report = PagedReport(store, False, findings, ordered, parent, datasets, jobs, [],
                         {ds.id: (ds.namespace, ds.name)})
    report._checks = _checks(store, ds.id, changed, change.drop_dataset, nearest.values(),
                             down.datasets, report._named)

    # Findings a reviewer should read.
    for fname, what in sorted(changed.items()):
        spec = fields.get(fname)
        if spec and spec.classifications and "retyped" not in what:
            origin = field_id(ds.namespace, ds.name, fname)
            heirs = [nearest[r.id] for r in down.fields if r.origin == origin]
            heir_names = report._named(h.dataset_id for h in heirs)
            for c in spec.classifications:
                for h in heirs:
                    ns, name = heir_names.get(h.dataset_id, ("", ""))
                    findings.append(f"{ns} {name}.{h.field} would lose its inherited "
                                    f"{c} classification ({fname} is {what})")
        if "retyped" in what and spec:
            new_type = dict(change.change_types)[fname]
            if narrows(spec.type, new_type):
                findings.append(f"{fname} narrows from {spec.type} to {new_type}: downstream readers "
                                "of it may overflow or truncate")
    watched = {c.field for c in report._checks if c.depth == 0 and c.field}
    for fname in sorted(watched & {f for f, w in changed.items() if "retyped" not in w}):
        findings.append(f"a quality assertion watches {fname}, which is {changed[fname]}")
    report.breaking = bool(ordered or jobs or datasets)
    if not report.breaking:
        findings.append("nothing downstream reads what changes")
    return report


def _checks(store: Store, changed_id: str, changed: dict[str, str], drop_dataset: bool,
            reached: Iterable[ReachedField], datasets: dict[str, int],
            named: Callable[[Iterable[str]], dict[str, tuple[str, str]]]) -> list[AffectedCheck]:
    """The quality checks on what the change affects, from each check's latest result (one
    store call): checks on the changed fields themselves (depth 0), on every affected field,
    and dataset-level checks (no field) of every affected dataset, and of the changed one when
    it is dropped. A field-level check on a dataset affected only at dataset level is not
    listed: its producer did not say which columns it reads."""
    latest = {i: results for i, results in
              store.latest_quality(sorted({changed_id, *datasets})).items() if results}
    if not latest:
        return []
    on_field = {(changed_id, f): 0 for f in changed}
    for r in reached:
        if r.dataset_id in latest:
            on_field[(r.dataset_id, r.field)] = r.depth
    on_dataset = dict(datasets)
    if drop_dataset:
        on_dataset[changed_id] = 0
    names = named(latest)
    out = []
    for i, results in latest.items():
        for q in results:
            depth = on_field.get((i, q.field)) if q.field else on_dataset.get(i)
            if depth is not None:
                out.append((depth, i, q.field or "", q.assertion, q.source, q.name or "",
                            AffectedCheck(*names.get(i, ("", "")), q.field, q.assertion, q.source, q.success,
                                          depth, q.name)))
    out.sort(key=lambda c: c[:6])
    return [c[-1] for c in out]
