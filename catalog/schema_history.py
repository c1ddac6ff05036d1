"""A dataset's schema history, the same whatever order events arrive in (both stores).

Every schema a dataset was seen with is kept as an *observation*: (event time, fingerprint,
run id), one per event time and fingerprint. The history is derived from them: observations
in event-time order (ties by fingerprint, then run id), one version per change of fingerprint,
each dated and attributed to the earliest observation that starts it. So a late, older schema
becomes a version in its place, later versions are renumbered, and any permutation of the same
events gives the same history.

A store keeps the history materialised (``schema_versions`` / ``SchemaVersion``) and updates it
per batch with ``plan``: events in time order only append (no read of past observations); a
batch reaching back before the last observation re-derives the history from the last version
that starts before it, reading the observations since that version only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from headwater.catalog.model import EventWrite

# (event time, fingerprint, run id or "") — "" sorts first and stores as text on both backends.
Observation = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    created_at: str
    fingerprint: str
    run_id: str  # "" when the event had no run


def observations(events: Sequence[EventWrite]) -> tuple[dict[str, list[Observation]],
                                                        dict[tuple[str, str], bytes]]:
    """Per dataset, the schemas the batch shows; and each (dataset, fingerprint)'s fields as
    stored (``[[name, type, description], ...]`` as JSON)."""
    import orjson

    seen: dict[str, set[Observation]] = {}
    bodies: dict[tuple[str, str], bytes] = {}
    for e in events:
        for d in e.all_datasets():
            if d.schema is None or d.schema_fingerprint is None:
                continue
            seen.setdefault(d.id, set()).add(
                (e.event_time, d.schema_fingerprint, e.run.id if e.run else ""))
            if (d.id, d.schema_fingerprint) not in bodies:  # every run repeats its schemas
                bodies[d.id, d.schema_fingerprint] = orjson.dumps(
                    [[f.name, f.type, f.description] for f in d.schema])
    return {ds: earliest_run(obs) for ds, obs in seen.items()}, bodies


def renames(events: Sequence[EventWrite]) -> dict[str, str]:
    """new dataset id -> old one, for the batch's RENAMEs: the old name's observations are
    copied to the new one and its history re-derived."""
    return {d.id: d.previous_id for e in events for d in e.all_datasets()
            if d.previous_id and d.previous_id != d.id}


def earliest_run(obs: Iterable[Observation]) -> list[Observation]:
    """One observation per (time, fingerprint): the smallest run id, so that which of two
    simultaneous events arrived first does not matter. Sorted."""
    best: dict[tuple[str, str], str] = {}
    for t, fp, run in obs:
        key = (t, fp)
        if key not in best or run < best[key]:
            best[key] = run
    return sorted((t, fp, run) for (t, fp), run in best.items())


def history(obs: Iterable[Observation], first: int = 1) -> list[Version]:
    """The versions ``obs`` imply, numbered from ``first``."""
    out: list[Version] = []
    for t, fp, run in earliest_run(obs):
        if not out or out[-1].fingerprint != fp:
            out.append(Version(first + len(out), t, fp, run))
    return out


def appends(latest: Version | None, obs: list[Observation]) -> list[Version]:
    """The versions to add when every observation in ``obs`` is later than any stored one."""
    out: list[Version] = []
    current = latest
    for t, fp, run in earliest_run(obs):
        if current is None or current.fingerprint != fp:
            current = Version((current.version if current else 0) + 1, t, fp, run)
            out.append(current)
    return out


def in_order(seen_until: str | None, obs: list[Observation]) -> bool:
    """Whether the batch only extends the history (all of it after the last observation)."""
    return seen_until is None or min(t for t, _, _ in obs) > seen_until


def restart(versions: Sequence[Version], earliest: str) -> Version | None:
    """The last stored version that starts before ``earliest`` (the batch's earliest time):
    the history before it cannot change. ``None``: re-derive from the first observation."""
    before = [v for v in versions if v.created_at < earliest]
    return max(before, key=lambda v: v.version) if before else None


def version_at(versions: Sequence[Version], t: str, fp: str) -> int | None:
    """The version an observation (t, fp) belongs to: the last one starting at or before it."""
    found = None
    for v in versions:
        if (v.created_at, v.fingerprint) <= (t, fp):
            found = v.version
    return found
