"""Catalog search, the backend-free part: what a query means, what is indexed, how hits rank
and how the matched text is shown. The stores keep the index (SQLite FTS5, a Neo4j full-text
index) and answer ``Searcher.search_page`` with documents in rank order; this module turns
those into hits.

Decisions (the issue leaves them open):

- A query is up to ``MAX_QUERY`` characters, cut into words the way the index cuts text
  (letters and digits; anything else separates, ``customer_id`` is ``customer`` + ``id``),
  case and accents ignored; every word must match, the last one as a prefix (search as you
  type). No query syntax reaches the index: operators, quotes and wildcards are plain text.
- Documents: one per dataset (name, description, tags, owners, the classifications of its
  fields), one per field of a dataset's current schema (field name, description,
  classifications) and one per job (name, description, tags, owners).
- Tiers, best first: the whole name equals the query, the name starts with it, the words are
  in the name, in a field's name, in a tag / owner / classification, anywhere else (the
  description). ``score`` is the tier (6 … 1); within a tier hits come in the store's order,
  stable between pages of an unchanged index.
- ``highlight``: the matched text, HTML-escaped, each matching word in ``<mark>…</mark>``;
  a long description is cut to a window around the first match (``…`` at the cuts).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from headwater.catalog.errors import Invalid
from headwater.catalog.ids import field_id
from headwater.catalog.model import EventWrite

MAX_QUERY = 200  # characters
MAX_WORDS = 8
MAX_FIRST = 100
MAX_OFFSET = 1000  # deeper pages: narrow the query
TYPES = ("DATASET", "FIELD", "JOB")
EXACT, PREFIX, NAME, FIELD, LABEL, TEXT = 6, 5, 4, 3, 2, 1
MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
_SNIPPET = 160
_WORD = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    """Lower case without accents, as SQLite's unicode61 tokenizer folds (remove_diacritics 2)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def indexed_text(values: Iterable[str | None]) -> str:
    """Text pre-cut into words, for an index whose analyzer only splits on spaces (Neo4j)."""
    return " ".join(w for v in values if v for w in words(v))


@dataclass(frozen=True)
class Query:
    text: str  # as typed, trimmed
    words: list[str]  # folded; the last is a prefix
    types: tuple[str, ...]
    namespace: str | None

    @property
    def lname(self) -> str:
        """What the exact and prefix tiers compare a lower-cased name with."""
        return self.text.lower()


def parse(text: str, types: Sequence[str] | None = None, namespace: str | None = None) -> Query:
    """``Invalid`` for an empty, too long or wordless query, or an unknown type."""
    text = text.strip()
    if len(text) > MAX_QUERY:
        raise Invalid.one(f"search query is {len(text)} characters; at most {MAX_QUERY}")
    found = words(text)
    if not found:
        raise Invalid.one("search query has no letters or digits to look for")
    if len(found) > MAX_WORDS:
        raise Invalid.one(f"search query has {len(found)} words; at most {MAX_WORDS}")
    kinds = tuple(t.upper() for t in types) if types else TYPES
    unknown = [t for t in kinds if t not in TYPES]
    if unknown:
        raise Invalid.one(f"unknown search type {unknown[0]!r}: one of {', '.join(TYPES)}")
    return Query(text, found, tuple(sorted(set(kinds))), namespace)


@functools.lru_cache(maxsize=4096)
def scope_token(value: str) -> str:
    """A one-word token for filtering by kind or namespace inside the full-text index
    (namespaces hold colons and slashes; a digest is one exact word)."""
    return "s" + hashlib.sha1(value.encode()).hexdigest()[:20]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~2x, per document
class SearchDoc:
    kind: str  # DATASET | FIELD | JOB
    node_id: str  # dataset or job id (a field's: its dataset's)
    namespace: str
    name: str
    field: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}\x00{self.node_id}\x00{self.field or ''}"

    @property
    def lname(self) -> str | None:
        """Lower-cased name for the name tiers; fields rank by their field name instead."""
        return None if self.kind == "FIELD" else self.name.lower()

    @property
    def scope(self) -> str:
        return f"{scope_token('kind:' + self.kind)} {scope_token('ns:' + self.namespace)}"

    # The searchable columns, in the order both indexes declare them.
    def columns(self) -> tuple[str, str, str, str, str, str]:
        return (self.name if self.kind != "FIELD" else "", self.field or "",
                " ".join(self.tags), " ".join(self.owners), " ".join(self.classifications),
                self.description or "")


COLUMNS = ("name", "field", "tags", "owners", "classifications", "description")


def dataset_docs(dataset_id: str, namespace: str, name: str, description: str | None,
                 tags: Iterable[str], owners: Iterable[str],
                 fields: Sequence[tuple[str, str | None]],
                 classes: dict[str, set[str]]) -> list[SearchDoc]:
    """A dataset's documents: its own, and one per field of its current schema (``fields``:
    name, description) or classified field (``classes``: field -> classifications)."""
    docs = [SearchDoc("DATASET", dataset_id, namespace, name, None, description,
                      tuple(sorted(set(tags))), tuple(sorted(set(owners))),
                      tuple(sorted({c for cs in classes.values() for c in cs})))]
    if not classes:  # the common case, on the write path: no set arithmetic per field
        # dict(): each field once, where it first appears, with its last description.
        docs += [SearchDoc("FIELD", dataset_id, namespace, name, f, d)
                 for f, d in dict(fields).items()]
        return docs
    names = [f for f, _ in fields] + sorted(set(classes) - {f for f, _ in fields})
    described = dict(fields)
    return docs + [
        SearchDoc("FIELD", dataset_id, namespace, name, f, described.get(f),
                  classifications=tuple(sorted(classes.get(f, ()))))
        for f in dict.fromkeys(names)]


def job_docs(job_id: str, namespace: str, name: str, description: str | None,
             tags: Iterable[str], owners: Iterable[str]) -> list[SearchDoc]:
    return [SearchDoc("JOB", job_id, namespace, name, None, description,
                      tuple(sorted(set(tags))), tuple(sorted(set(owners))))]


@dataclass(frozen=True)
class SearchHit:
    type: str
    id: str
    namespace: str
    name: str
    field: str | None
    matched: str
    highlight: str
    score: float


@dataclass
class SearchPage:
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0
    offset: int = 0


@runtime_checkable
class Searcher(Protocol):
    def search_docs(self, query: Query, offset: int, first: int
                    ) -> tuple[list[tuple[int, SearchDoc]], int]:
        """(tier, document) in rank order from ``offset`` (at most ``first``), and how many
        documents match in all."""
        ...


def _matches(word: str, query: Query) -> bool:
    return any(word == w or (i == len(query.words) - 1 and word.startswith(w))
               for i, w in enumerate(query.words))


def mark(text: str, query: Query, snippet: bool = False) -> str:
    """``text`` HTML-escaped with every matching word in ``<mark>…</mark>``."""
    spans = [m.span() for m in _WORD.finditer(text) if _matches(_fold(m.group()), query)]
    start, end = 0, len(text)
    if snippet and len(text) > _SNIPPET:
        first = spans[0][0] if spans else 0
        start = max(0, first - _SNIPPET // 4)
        end = min(len(text), start + _SNIPPET)
    out, at = [], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out += [html.escape(text[at:a]), MARK_OPEN, html.escape(text[a:b]), MARK_CLOSE]
        at = b
    out.append(html.escape(text[at:end]))
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(text) else "")


def _covers(values: Iterable[str], query: Query) -> str | None:
    """The first value holding every query word, else None."""
    for value in values:
        found = set(words(value))
        if all(any(f == w or (i == len(query.words) - 1 and f.startswith(w)) for f in found)
               for i, w in enumerate(query.words)):
            return value
    return None


def hit(tier: int, doc: SearchDoc, query: Query) -> SearchHit:
    """What matched, shown: the column of the document's tier."""
    matched, text = "text", doc.name
    if tier >= NAME:
        matched, text = "name", doc.name
    elif tier == FIELD:
        matched, text = "field", doc.field or ""
    elif tier == LABEL:
        for kind, values in (("classification", doc.classifications), ("tag", doc.tags),
                             ("owner", doc.owners)):
            value = _covers(values, query)
            if value is not None:
                matched, text = kind, value
                break
        else:
            matched, text = "tag", " ".join((*doc.classifications, *doc.tags, *doc.owners))
    elif doc.description and _covers([doc.description], query) is not None:
        matched, text = "description", doc.description
    elif doc.description:
        text = doc.description
    if tier == EXACT:
        highlight = MARK_OPEN + html.escape(text) + MARK_CLOSE
    elif tier == PREFIX:
        n = len(query.text)
        highlight = MARK_OPEN + html.escape(text[:n]) + MARK_CLOSE + html.escape(text[n:])
    else:
        highlight = mark(text, query, snippet=matched in ("description", "text"))
    hit_id = (field_id(doc.namespace, doc.name, doc.field) if doc.kind == "FIELD" and doc.field
              else doc.node_id)  # the stored id: never rebuilt by hand (catalog.ids escapes)
    return SearchHit(doc.kind, hit_id, doc.namespace, doc.name, doc.field, matched, highlight,
                     float(tier))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"search:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid.one("malformed search cursor: pass an endCursor or cursor from search") from exc
    if kind != "search" or offset < 0:
        raise Invalid.one("malformed search cursor: pass an endCursor or cursor from search")
    return offset


def search(store: Searcher, text: str, types: Sequence[str] | None = None,
           namespace: str | None = None, first: int = 20, after: str | None = None
           ) -> SearchPage:
    """One page of hits after the cursor ``after``."""
    query = parse(text, types, namespace)
    if not 0 <= first <= MAX_FIRST:
        raise Invalid.one(f"first must be between 0 and {MAX_FIRST}")
    offset = decode_cursor(after) + (1 if after else 0)
    if offset > MAX_OFFSET:
        raise Invalid.one(f"search pages reach {MAX_OFFSET} hits deep; narrow the query")
    docs, total = store.search_docs(query, offset, first)
    return SearchPage([hit(t, d, query) for t, d in docs], total, offset)


def contributions(events: Iterable[EventWrite]) -> dict[str, str]:
    """Per dataset or job an event batch touches, a digest of what it says that search
    indexes. A store re-indexes a node only when the digest differs from the last one it
    indexed the node for (runs repeat their job's metadata: re-indexing each would cost every
    write). A node the batch describes in two ways gets ``MIXED``, never indexed for.
    ``LINEAGE_ONLY`` marks a dataset seen only as a column-lineage source.

    On the write path of every event, hence: a node that says nothing but its schema (the
    common case) keyed by its fingerprint alone, no tuple built; column-lineage sources
    gathered in C (``map``); one digest per distinct key, remembered (``_digest`` is cached:
    the same jobs run again and again). Digests are the same as ever: nothing stored goes
    stale by this."""
    said: dict[str, object] = {}  # node -> the first key the batch gave it
    mixed: set[str] = set()
    sources: set[str] = set()
    source_of = operator.attrgetter("source_dataset")
    for e in events:
        if e.job:
            j = e.job
            key: object = ((j.description, tuple(j.tags), tuple(o for o, _ in j.owners))
                           if j.description or j.tags or j.owners else _BARE_JOB)
            first = said.setdefault(j.id, key)
            if first is not key and first != key:
                mixed.add(j.id)
        for group in (e.inputs, e.outputs, e.datasets):
            for d in group:
                # Most datasets say nothing but their schema: its fingerprint is their key.
                key = ((d.description, tuple(d.tags), tuple(o for o, _ in d.owners),
                        tuple(d.field_classifications), d.schema_fingerprint)
                       if d.description or d.tags or d.owners or d.field_classifications
                       else d.schema_fingerprint)
                first = said.setdefault(d.id, key)
                if first is not key and first != key:
                    mixed.add(d.id)
        if e.column_edges:
            sources.update(map(source_of, e.column_edges))
    out = {node: MIXED if node in mixed else _key_digest(key) for node, key in said.items()}
    for source in sources - out.keys():
        out[source] = LINEAGE_ONLY
    return out


_BARE_JOB = ("job",)  # a job that says nothing search indexes


def _key_digest(key: object) -> str:
    """The digest of a ``contributions`` key, the same as of its long form."""
    if key is _BARE_JOB:
        return _digest(None, (), ())
    if not isinstance(key, tuple):  # a dataset's schema fingerprint (or None)
        return _digest(None, (), (), (), key)
    return _digest(*key)


MIXED = "*"
LINEAGE_ONLY = "-"


def stale(touched: dict[str, str], seen: dict[str, str]) -> list[str]:
    """The touched nodes to re-index, given the digest each was last indexed for."""
    return sorted(n for n, d in touched.items()
                  if n not in seen or (d != LINEAGE_ONLY and seen[n] != d))


@functools.lru_cache(maxsize=65536)
def _digest(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]
