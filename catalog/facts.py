"""Unchanged facts are not written again (docs/design.md, "Unchanged facts").

A job runs many times with the same inputs, outputs, schemas and column lineage; only the run
is new. Each event carries a digest of what it says of its job and of each dataset that is not
per event (``JobWrite.facts``, ``DatasetWrite.facts``, made at normalisation by
``dataset_facts`` and ``job_facts``), and each stored job and dataset the digest of the facts
it was last written with in full. ``plan`` compares the two for a batch, inside the write
transaction: a node whose events all say what it holds (the same digest) is *touched* (its
``updated_at`` and the event times of its facets advance, as the full write would advance
them) and nothing else is written for it; any other node is written in full, as before.

What a stored digest promises: writing those facts again, at any event time, would change
nothing but those times. A full write keeps the promise by recording the digest only when its
events were the node's newest (they then win every value they carry) and all said the same;
otherwise it clears it. Every other write of what a digest covers clears it too: a steward's
tag or classification, and a column derivation taken over by another job (``Plan.owners``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from headwater.catalog.ids import digest
from headwater.catalog.model import DatasetWrite, EventWrite, JobWrite

# Dataset facets that change from run to run: written with every event, never part of the
# digest (a digest that changes with every run would never skip anything).
PER_EVENT_FACETS = frozenset({"version", "dataQualityMetrics", "dataQualityAssertions"})
# What an event with nothing to say of a dataset carries (a quality result names a dataset and
# nothing else): it only touches the node, whatever its digest.
NO_FACTS = "-"

EdgeKey = tuple[str, str, str, str]  # (source field, target field, type, subtype)


def dataset_facts(d: DatasetWrite) -> str:
    """The digest of a dataset's facts in one event: its name and every facet but the
    per-event ones (description, tags, owners, symlinks, lifecycle and schema come from them)."""
    static = {k: v for k, v in d.facets.items() if k not in PER_EVENT_FACETS}
    if not static:
        return NO_FACTS
    return digest(d.id, orjson.dumps(static, option=orjson.OPT_SORT_KEYS))


def job_facts(job: JobWrite, datasets: Sequence[DatasetWrite]) -> str | None:
    """The digest of a job's facts in one event: its facets, and which datasets it reads and
    writes with their facts (its column lineage is made from those, and nothing else)."""
    if any(d.facts is None for d in datasets):
        return None
    parts = sorted(f"{d.role}\x1e{d.id}\x1e{d.facts}" for d in datasets)
    return digest(job.id, orjson.dumps(job.facets, option=orjson.OPT_SORT_KEYS), *parts)


@dataclass
class Plan:
    """What a batch writes of its jobs' and datasets' facts."""

    touched: dict[str, str] = field(default_factory=dict)  # unchanged node -> newest event time
    record: dict[str, str | None] = field(default_factory=dict)  # written node -> digest to keep
    # Column derivations written, with the job each ends up attributed to in this batch
    # (``None``: an event without a job wrote it last), for ``owners``.
    edges: dict[EdgeKey, str | None] = field(default_factory=dict)

    def job_written(self, e: EventWrite) -> bool:
        return e.job is not None and e.job.id not in self.touched

    def dataset_written(self, d: DatasetWrite) -> bool:
        return d.id not in self.touched

    def edges_written(self, e: EventWrite) -> bool:
        return e.job is None or e.job.id not in self.touched

    def owners(self, stored: dict[EdgeKey, str | None]) -> set[str]:
        """Jobs whose digest no longer holds once the batch's derivations are written:
        ``stored`` is each written derivation's job before the write. A derivation another
        job (or an event without one) writes is not what the old job's facts say."""
        return {job for key, job in stored.items()
                if job is not None and self.edges.get(key, job) != job}

    def facets(self, e: EventWrite) -> Iterator[tuple[str, str, Any]]:
        """(node, facet name, body) of the event to write: every per-event facet, and the
        facets of the nodes written in full."""
        if e.job and e.job.facets and self.job_written(e):
            yield from ((e.job.id, k, v) for k, v in e.job.facets.items())
        if e.run:
            yield from ((e.run.id, k, v) for k, v in e.run.facets.items())
        for d in e.all_datasets():
            written = self.dataset_written(d)
            yield from ((d.id, k, v) for k, v in d.facets.items()
                        if written or k in PER_EVENT_FACETS)
            if d.io_facets and e.run:
                key = f"{e.run.id}|{d.role}|{d.id}"
                yield from ((key, k, v) for k, v in d.io_facets.items())
            # The newest column metrics measured on a dataset (by event time) show on it.
            if "dataQualityMetrics" in d.io_facets:
                yield d.id, "dataQualityMetrics", d.io_facets["dataQualityMetrics"]

    def facet_times(self, events: Sequence[EventWrite]) -> list[tuple[str, str, str]]:
        """(node, facet name, newest event time) of the facets of touched nodes: their time
        advances as a full write would advance it; their body is what is stored."""
        newest: dict[tuple[str, str], str] = {}
        for e in events:
            names: list[tuple[str, Iterable[str]]] = []
            if e.job and e.job.id in self.touched:
                names.append((e.job.id, e.job.facets))
            names += [(d.id, (k for k in d.facets if k not in PER_EVENT_FACETS))
                      for d in e.all_datasets() if d.id in self.touched]
            for node, keys in names:
                for name in keys:
                    if newest.get((node, name), "") < e.event_time:
                        newest[node, name] = e.event_time
        return [(n, k, t) for (n, k), t in newest.items()]


def _keys(e: EventWrite) -> set[EdgeKey]:
    return {(c.source_id, c.target_id, c.type, c.subtype) for c in e.column_edges}


def plan(events: Sequence[EventWrite], stored: dict[str, tuple[str | None, str]],
         enabled: bool = True) -> Plan:
    """Which of the batch's jobs and datasets are unchanged. ``stored``: each existing node's
    digest and ``updated_at`` (the newest event time written to it), read in the write's
    transaction. ``enabled=False`` writes every node in full (the digests are still kept)."""
    said: dict[str, set[str | None]] = {}
    newest: dict[str, str] = {}  # per node, its newest event of the batch
    newest_said: dict[str, str] = {}  # ... of those that say something of it
    for e in events:
        t = e.event_time
        for node, facts in ((d.id, d.facts) for d in e.all_datasets()):
            said.setdefault(node, set()).add(facts)
            if newest.get(node, "") < t:
                newest[node] = t
            if facts != NO_FACTS and newest_said.get(node, "") < t:
                newest_said[node] = t
        if e.job:
            node = e.job.id
            said.setdefault(node, set()).add(e.job.facts)
            if newest.get(node, "") < t:
                newest[node] = newest_said[node] = t
    out = Plan()
    for node, digests in said.items():
        known = stored.get(node)
        if enabled and known is not None and known[0] is not None and (
                digests - {NO_FACTS}) <= {known[0]}:
            out.touched[node] = newest[node]
    # A derivation goes to the job of the batch's latest event that states it: an unchanged
    # job whose derivations another event of the batch writes is written in full as well, so
    # that the latest still wins (repeated until nothing changes). Derivations target their
    # job's outputs: only an unchanged job writing a dataset that is written to is compared.
    written_events = [e for e in events if e.column_edges and out.edges_written(e)]
    targets = {c.target_dataset for e in written_events for c in e.column_edges}
    changed = bool(targets)
    while changed:
        changed = False
        keys = set().union(*(_keys(e) for e in written_events))
        for e in events:
            if (e.job and e.job.id in out.touched and e.column_edges
                    and any(d.id in targets for d in e.outputs) and _keys(e) & keys):
                del out.touched[e.job.id]
                written_events = [e for e in events if e.column_edges and out.edges_written(e)]
                targets = {c.target_dataset for e in written_events for c in e.column_edges}
                changed = True
                break
    for e in sorted(written_events, key=lambda e: e.event_time):
        for c in e.column_edges:
            out.edges[c.source_id, c.target_id, c.type, c.subtype] = e.job.id if e.job else None
    lost = {e.job.id for e in written_events
            if e.job and any(out.edges[k] != e.job.id for k in _keys(e))}
    for node, digests in said.items():
        if node in out.touched:
            continue
        known = stored.get(node)
        said_here = digests - {NO_FACTS}
        if not said_here:  # nothing said of it: what was promised still holds
            out.record[node] = known[0] if known else None
            continue
        (only,) = said_here if len(said_here) == 1 else (None,)
        # Only the node's newest events win every value they carry; a late one may not.
        newest_here = known is None or newest_said[node] >= known[1]
        out.record[node] = only if newest_here and node not in lost else None
    return out
