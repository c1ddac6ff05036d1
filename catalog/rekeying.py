"""Moving a store from the ids of 0.1.0 to ids that cannot collide (``catalog.ids``), for
both stores' migration steps.

0.1.0 keyed a node by ``<kind>:<namespace>:<name>[:<field>]`` as written, so two nodes could
share a key; today's ids escape ``%`` and ``:`` in the name and field. Only nodes whose name
or field holds one of those have a new id, and only the rows about them change. Nodes that
0.1.0 already merged under one key stay one node (under the id of the namespace and name it
was first written with): nothing recorded which facts came from which.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headwater.catalog.ids import make_id

# Ids are moved in two passes, old -> TMP + new -> new, so that one node's new id may be
# another's old one (names "a:b" and "a%3Ab" in one namespace) without two rows ever sharing
# a key. NUL is refused in names, so no real id starts with it.
TMP = "\x00"


def moved(kind: str, rows: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """old id -> new id, for the ``(id, (namespace, name[, field]))`` rows whose id changes."""
    out = {}
    for old, parts in rows:
        new = make_id(kind, parts)
        if new != old:
            out[old] = new
    return out


def rekey_erasure(doc: dict[str, Any], datasets: dict[str, str]) -> bool:
    """Rewrite the dataset ids an erasure request's tasks hold; True if any changed. (Its
    audit trail is evidence and append-only: it keeps the ids it was written with.)"""
    changed = False
    for task in doc.get("tasks") or []:
        if task.get("dataset") in datasets:
            task["dataset"] = datasets[task["dataset"]]
            changed = True
        upstream = task.get("upstream") or []
        if any(u in datasets for u in upstream):
            task["upstream"] = [datasets.get(u, u) for u in upstream]
            changed = True
    return changed
