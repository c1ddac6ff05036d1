"""Other names of a dataset, whatever order events arrive in (docs/design.md, "Other names of
a dataset"), for both stores.

A dataset's symlinks facet declares its other names (``DatasetWrite.aliases``: a storage
location, another table name). The store keeps an alias index (alias id -> dataset) built from
those declarations. Before a batch is written, every dataset its events name (as a dataset, or
as an end of a column derivation) is looked up in that index and in the batch's own
declarations, in one query, and a name that is an alias is written as the dataset it names.

A name declared as an alias after it was stored as a dataset of its own (the location's events
arrived first) is merged into the dataset that declared it, in the declaring batch's
transaction (``merge`` in each store's ``aliases`` module): afterwards the catalog is what it would have been
had the declaration come first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from headwater.catalog.ids import field_id
from headwater.catalog.model import ColumnEdge, DatasetWrite, EventWrite


@dataclass(frozen=True, slots=True)
class Target:
    """The dataset an alias names."""

    id: str
    namespace: str
    name: str


def named(events: Iterable[EventWrite]) -> set[str]:
    """Every dataset id the events name: datasets, and both ends of column derivations."""
    out: set[str] = set()
    for e in events:
        out.update(d.id for d in e.all_datasets())
        for c in e.column_edges:
            out.add(c.source_dataset)
            out.add(c.target_dataset)
    return out


def declared(events: Iterable[EventWrite], stored: dict[str, Target]) -> dict[str, Target]:
    """The aliases the events declare that the store does not hold yet (alias id -> target),
    each target resolved through ``stored`` first. The first declaration in batch order wins,
    as the first stored one does: an alias names one dataset."""
    out: dict[str, Target] = {}
    for e in events:
        for d in e.all_datasets():
            if not d.aliases:
                continue
            target = stored.get(d.id) or Target(d.id, d.namespace, d.name)
            for alias in d.aliases:
                if alias != target.id and alias not in stored:
                    out.setdefault(alias, target)
    # A declaring dataset that is itself declared an alias in the batch: follow it (one hop,
    # so a cycle of declarations stops).
    for alias, target in list(out.items()):
        further = out.get(target.id)
        if further is not None and further.id != alias:
            out[alias] = further
    return out


def _dataset(d: DatasetWrite, aliases: dict[str, Target]) -> DatasetWrite:
    t = aliases.get(d.id)
    if t is None:
        return d
    # A new object: normalised datasets are memoised and shared between events.
    return replace(d, id=t.id, namespace=t.namespace, name=t.name,
                   symlinks=[s for s in d.symlinks if (s[0], s[1]) != (t.namespace, t.name)],
                   aliases=[a for a in d.aliases if a != t.id])


def _edge(c: ColumnEdge, aliases: dict[str, Target]) -> ColumnEdge:
    s, t = aliases.get(c.source_dataset), aliases.get(c.target_dataset)
    if s is None and t is None:
        return c
    if s is not None:
        c = replace(c, source_id=field_id(s.namespace, s.name, c.source_field),
                    source_dataset=s.id, source_namespace=s.namespace, source_name=s.name)
    if t is not None:
        c = replace(c, target_id=field_id(t.namespace, t.name, c.target_field),
                    target_dataset=t.id)
    return c


def resolve(events: Sequence[EventWrite], aliases: dict[str, Target]) -> list[EventWrite]:
    """The events with every alias they name written as its dataset. Events that name none
    are returned as they are; the others are copies (the caller's events, and the memoised
    datasets and edges they share, are never changed: a batch that fails is retried request
    by request, from the events as they arrived)."""
    if not aliases:
        return list(events)
    out = []
    for e in events:
        if any(d.id in aliases for d in e.all_datasets()) or any(
                c.source_dataset in aliases or c.target_dataset in aliases
                for c in e.column_edges):
            e = replace(e, inputs=[_dataset(d, aliases) for d in e.inputs],
                        outputs=[_dataset(d, aliases) for d in e.outputs],
                        datasets=[_dataset(d, aliases) for d in e.datasets],
                        column_edges=[_edge(c, aliases) for c in e.column_edges])
        out.append(e)
    return out


def renamed_from(event: object) -> set[tuple[str, str]]:
    """The old names (namespace, name) a stored event's RENAMEs name: they stay among the new
    name's symlinks but are no aliases (the old dataset is left as it was). For migrations,
    which build the alias index from stored symlinks."""
    if not isinstance(event, dict):
        return set()
    out: set[tuple[str, str]] = set()
    for d in [*(event.get("inputs") or []), *(event.get("outputs") or []), event.get("dataset")]:
        facets = d.get("facets") if isinstance(d, dict) else None
        change = facets.get("lifecycleStateChange") if isinstance(facets, dict) else None
        previous = change.get("previousIdentifier") if isinstance(change, dict) else None
        if isinstance(previous, dict) and "namespace" in previous and "name" in previous:
            out.add((str(previous["namespace"]), str(previous["name"])))
    return out
