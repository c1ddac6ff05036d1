"""From an id string a person typed to the one node it names, or an error naming them all.

An exact id (``catalog.ids``: what the server hands out) names one node. But a raw Marquez
id, split at any of its colons, can name several: ``dataset:col:a:b`` is namespace ``col:a``
with name ``b``, or namespace ``col`` with name ``a:b``. When more than one of the nodes a
string can mean exists, nothing is guessed: ``AmbiguousId`` names every one of them.
"""

from __future__ import annotations

from headwater.catalog.errors import Conflict, Invalid
from headwater.catalog.ids import escaped_id, make_id, readings
from headwater.catalog.store import CatalogReader


def _describe(kind: str, parts: tuple[str, ...]) -> str:
    ns, name, *field = parts
    text = f"namespace {ns!r}, name {name!r}" + (f", field {field[0]!r}" if field else "")
    own, escaped = make_id(kind, parts), escaped_id(kind, parts)
    return f"{text} (id {own!r}" + (f", or {escaped!r})" if escaped != own else ")")


class AmbiguousId(Conflict):
    """An id string that names more than one stored node."""

    def __init__(self, node_id: str, kind: str, nodes: list[tuple[str, ...]]) -> None:
        self.node_id = node_id
        self.matches = nodes  # not "nodes": graphql-core reads that name off any error
        how = {"dataset": "dataset(namespace:, name:)", "job": "job(namespace:, name:)",
               "field": "columnLineage(namespace:, name:, field:)"}[kind]
        super().__init__(
            f"{node_id!r} names {len(nodes)} {kind}s: "
            + "; ".join(_describe(kind, n) for n in nodes)
            + f". Ask by {how}, or use the escaped id of the one you mean"
            " (':' and '%' in a part written %3A and %25).")


def resolve(store: CatalogReader, node_id: str) -> str:
    """The id of the one stored node ``node_id`` names (itself, when it is an exact id that
    nothing else could be read as); ``node_id`` unchanged when it names none, or is no
    dataset, job or field id. ``AmbiguousId`` when it names several. One store query."""
    try:
        read = readings(node_id)
    except ValueError as exc:
        raise Invalid.one(f"{node_id[:200]!r} has too many colons to be read as an id ({exc});"
                          " look the node up by namespace and name instead") from exc
    if read is None:
        return node_id
    kind, candidates = read
    keys = {make_id(kind, c): c for c in candidates}
    keys.setdefault(node_id, ())
    found = store.node_names(kind, sorted(keys))
    if len(found) > 1:
        raise AmbiguousId(node_id, kind, sorted(found.values()))
    return next(iter(found), node_id)
