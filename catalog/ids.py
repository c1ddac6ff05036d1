"""Node ids, shaped like Marquez's so OpenLineage users recognise them, and never colliding.

A node's identity is its ``(namespace, name[, field])`` tuple; its id (which is also the key
the stores keep it under) is ``dataset:<namespace>:<name>``, ``job:<namespace>:<name>`` or
``datasetField:<namespace>:<name>:<field>`` with ``%`` and ``:`` escaped (``%25``, ``%3A``) in
the name and field, never in the namespace. Names and fields of real systems hold neither, so
their ids read exactly as Marquez's; and since what follows the namespace has no bare colon,
the id still says which colons are the namespace's: two nodes never share one
(``col:a`` + ``b`` is ``dataset:col:a:b``, ``col`` + ``a:b`` is ``dataset:col:a%3Ab``).

A person may still type the raw Marquez form (``dataset:col:a:b`` meaning ``col`` + ``a:b``):
``readings`` lists every node such a string can name, and ``catalog.resolving`` answers with
the one that exists or an error naming them all.
"""

from __future__ import annotations

import hashlib
import re

PREFIXES = (("datasetField", "field"), ("dataset", "dataset"), ("job", "job"))
# Above this many ways to read one id string, it is refused rather than looked up: an id with
# dozens of colons is not one a person meant (a namespace with 30 colons is not a real one).
MAX_READINGS = 1024
_UNESCAPE = re.compile("%(25|3A)")


def escape(part: str) -> str:
    """A name or field as it appears in an id: ``%`` and ``:`` escaped, nothing else."""
    if "%" not in part and ":" not in part:
        return part  # the common case, on the ingestion path: no copy
    return part.replace("%", "%25").replace(":", "%3A")


def unescape(part: str) -> str:
    return _UNESCAPE.sub(lambda m: "%" if m.group(1) == "25" else ":", part)


# On the ingestion path (several ids per event): the tests inline, escape() only when needed.
def dataset_id(namespace: str, name: str) -> str:
    if ":" in name or "%" in name:
        name = escape(name)
    return f"dataset:{namespace}:{name}"


def job_id(namespace: str, name: str) -> str:
    if ":" in name or "%" in name:
        name = escape(name)
    return f"job:{namespace}:{name}"


def field_id(namespace: str, name: str, field: str) -> str:
    if ":" in name or "%" in name:
        name = escape(name)
    if ":" in field or "%" in field:
        field = escape(field)
    return f"datasetField:{namespace}:{name}:{field}"


def node_kind(node_id: str) -> str | None:
    """'dataset', 'job', 'field' or None (a run id or garbage)."""
    for prefix, kind in PREFIXES:
        if node_id.startswith(prefix + ":"):
            return kind
    return None


def make_id(kind: str, parts: tuple[str, ...]) -> str:
    if kind == "field":
        return field_id(*parts)
    return dataset_id(*parts) if kind == "dataset" else job_id(*parts)


def escaped_id(kind: str, parts: tuple[str, ...]) -> str:
    """The id with the namespace escaped too (``dataset:col%3Aa:b``): a spelling ``readings``
    accepts that stays unambiguous when the node's own id is not."""
    prefix = next(p for p, k in PREFIXES if k == kind)
    return ":".join([prefix, *(escape(p) for p in parts)])


def parse(node_id: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, (namespace, name[, field])) of an id as Headwater makes them; None if it is not
    one (no such prefix, or too few colons)."""
    kind = node_kind(node_id)
    if kind is None:
        return None
    body = node_id.partition(":")[2]
    n = 2 if kind == "field" else 1
    pieces = body.rsplit(":", n)
    if len(pieces) != n + 1 or not all(pieces):
        return None
    return kind, (pieces[0], *(unescape(p) for p in pieces[1:]))


def readings(node_id: str) -> tuple[str, set[tuple[str, ...]]] | None:
    """Every ``(namespace, name[, field])`` the string may mean: the node whose id it is, each
    way of reading it as a raw Marquez id (split at any of its colons), and, when it has just
    the colons an id needs, each part unescaped (``dataset:col%3Aa:b``: namespace ``col:a``,
    the spelling that names a node whose id is ambiguous). None if it is no dataset, job or
    field id; ``ValueError`` past ``MAX_READINGS``."""
    kind = node_kind(node_id)
    if kind is None:
        return None
    body = node_id.partition(":")[2]
    colons = [i for i, c in enumerate(body) if c == ":"]
    n = 2 if kind == "field" else 1
    if len(colons) > 2 * MAX_READINGS ** (1 / n):  # a quick bound before counting exactly
        raise ValueError(f"{len(colons)} colons")
    out: set[tuple[str, ...]] = set()
    parsed = parse(node_id)
    if parsed is not None:
        out.add(parsed[1])
    splits: list[tuple[str, ...]]
    if n == 1:
        splits = [(body[:i], body[i + 1:]) for i in colons]
    else:
        splits = [(body[:i], body[i + 1:j], body[j + 1:])
                  for a, i in enumerate(colons) for j in colons[a + 1:]]
    if len(splits) > MAX_READINGS:
        raise ValueError(f"{len(splits)} readings")
    out.update(s for s in splits if all(s))
    if len(colons) == n and "%" in body:
        out.add(tuple(unescape(p) for p in body.split(":")))
    return kind, out


def digest(*parts: str | bytes) -> str:
    """A short stable hash used for content-addressed ids (events, quality results)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.hexdigest()[:32]
