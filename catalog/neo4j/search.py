"""Catalog search on Neo4j: one ``:SearchDoc`` node per document under a full-text (Lucene)
index, rewritten in the write's own transaction (``reindex``) for the nodes whose searchable
metadata changed.

The index's analyzer only splits on spaces: documents store their text pre-cut into folded
words (``search.indexed_text``), the same cut SQLite's tokenizer makes, so both stores match the
same words. A tier is one Lucene query excluding the tiers above it, read with a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import neo4j
import orjson

from headwater.catalog import search
from headwater.catalog.neo4j.connection import Connection
from headwater.catalog.neo4j.cypher import CLASSES
from headwater.catalog.search import Query, SearchDoc

INDEX = "search_text"
# Lucene field per searchable column (search.COLUMNS order).
_FIELDS = ("tName", "tField", "tTags", "tOwners", "tClasses", "tDesc")

SEARCH_INDEXES = [
    f"CREATE FULLTEXT INDEX {INDEX} IF NOT EXISTS FOR (n:SearchDoc)"
    f" ON EACH [{', '.join('n.' + f for f in (*_FIELDS, 'scope'))}]"
    " OPTIONS {indexConfig: {`fulltext.analyzer`: 'whitespace',"
    " `fulltext.eventually_consistent`: false}}",
    "CREATE INDEX searchdoc_node IF NOT EXISTS FOR (n:SearchDoc) ON (n.nodeId)",
    "CREATE INDEX searchdoc_lname IF NOT EXISTS FOR (n:SearchDoc) ON (n.lname)",
    "CREATE CONSTRAINT searchseen_node IF NOT EXISTS FOR (n:SearchSeen) REQUIRE n.nodeId IS UNIQUE",
]


def build_index(tx: neo4j.ManagedTransaction) -> None:
    """The migration step: index every dataset and job already stored."""
    ids = [r["id"] for r in tx.run("MATCH (d:Dataset) RETURN d.id AS id UNION ALL"
                                   " MATCH (j:Job) RETURN j.id AS id")]
    for i in range(0, len(ids), 5000):
        reindex(tx, ids[i : i + 5000])


def _props(d: SearchDoc) -> dict[str, Any]:
    cols = d.columns()
    return {"key": d.key, "kind": d.kind, "nodeId": d.node_id, "namespace": d.namespace,
            "name": d.name, "field": d.field, "lname": d.lname, "description": d.description,
            "tags": list(d.tags), "owners": list(d.owners),
            "classifications": list(d.classifications), "scope": d.scope,
            **{f: search.indexed_text([c]) for f, c in zip(_FIELDS, cols, strict=True)}}


def write_docs(tx: neo4j.ManagedTransaction, docs: Sequence[SearchDoc]) -> None:
    """Add these documents to the index (the caller has deleted any they replace)."""
    if docs:
        tx.run("UNWIND $rows AS r CREATE (s:SearchDoc) SET s = r",
               rows=[_props(d) for d in docs]).consume()


def reindex(tx: neo4j.ManagedTransaction, node_ids: Sequence[str],
            digests: dict[str, str] | None = None) -> None:
    """Rewrite the documents of these datasets and jobs from what is stored, inside ``tx``;
    remember ``digests`` (``search.contributions``) as indexed."""
    ids = list(node_ids)
    if not ids:
        return
    tx.run("UNWIND $ids AS id MATCH (s:SearchDoc {nodeId: id}) DELETE s", ids=ids).consume()
    docs: list[SearchDoc] = []
    for r in tx.run(
            "UNWIND $ids AS id MATCH (d:Dataset {id: id})"
            " OPTIONAL MATCH (s:SchemaVersion {datasetId: id})"
            " WITH d, s ORDER BY s.version DESC WITH d, head(collect(s.fields)) AS fields"
            " OPTIONAL MATCH (d)-[:HAS_FIELD]->(f:Field)"
            f" WITH d, fields, collect([f.name, {CLASSES}]) AS classes"
            " RETURN d.id AS id, d.namespace AS ns, d.name AS name, d.description AS desc,"
            " d.tags AS tags, d.owners AS owners, fields, classes", ids=ids):
        classes = {n: set(cs) for n, cs in r["classes"] if n is not None and cs}
        fields = [(n, d) for n, _, d in orjson.loads(r["fields"])] if r["fields"] else []
        docs += search.dataset_docs(r["id"], r["ns"], r["name"], r["desc"], r["tags"] or [],
                                    r["owners"] or [], fields, classes)
    for r in tx.run("UNWIND $ids AS id MATCH (j:Job {id: id}) RETURN j.id AS id,"
                    " j.namespace AS ns, j.name AS name, j.description AS desc,"
                    " j.tags AS tags, j.owners AS owners", ids=ids):
        docs += search.job_docs(r["id"], r["ns"], r["name"], r["desc"], r["tags"] or [],
                                r["owners"] or [])
    write_docs(tx, docs)
    if digests:
        tx.run("UNWIND $rows AS r MERGE (s:SearchSeen {nodeId: r[0]}) SET s.digest = r[1]",
               rows=[[n, digests[n]] for n in ids if n in digests]).consume()
    else:  # a steward's edit: the next event re-indexes the node whatever it says
        tx.run("UNWIND $ids AS id MATCH (s:SearchSeen {nodeId: id}) DELETE s", ids=ids).consume()


def reindex_touched(tx: neo4j.ManagedTransaction, touched: dict[str, str]) -> None:
    """Re-index the nodes an event batch changed the searchable metadata of."""
    if not touched:
        return
    seen = {r["id"]: r["digest"] for r in tx.run(
        "UNWIND $ids AS id MATCH (s:SearchSeen {nodeId: id}) RETURN id, s.digest AS digest",
        ids=list(touched))}
    stale = search.stale(touched, seen)
    if stale:
        reindex(tx, stale, touched)


def _all_words(words: Sequence[str], fields: Sequence[str]) -> str:
    """Every word (the last as a prefix) in one of ``fields``. Words are letters and digits
    only (``search.parse``): nothing in them is Lucene syntax."""
    terms = [*words[:-1], words[-1] + "*"]
    return " ".join("+(" + " ".join(f"{f}:{t}" for f in fields) + ")" for t in terms)


def _scope(query: Query) -> str:
    """The Lucene clause keeping the query's types and namespace; none when it would keep
    every document (a clause every document matches still costs its postings, ~1/3 of a
    100,000-match count)."""
    out = ""
    if set(query.types) != set(search.TYPES):
        out = "+scope:(" + " ".join(search.scope_token("kind:" + k) for k in query.types) + ")"
    if query.namespace is not None:
        out += " +scope:" + search.scope_token("ns:" + query.namespace)
    return out


# What a hit shows: the document's stored properties, without its indexed text.
_SHOWN = "{.kind, .nodeId, .namespace, .name, .field, .description, .tags, .owners, .classifications}"


def _doc(n: dict[str, Any]) -> SearchDoc:
    return SearchDoc(n["kind"], n["nodeId"], n["namespace"], n["name"], n.get("field"),
                     n.get("description"), tuple(n.get("tags") or ()),
                     tuple(n.get("owners") or ()), tuple(n.get("classifications") or ()))


class SearchIndex(Connection):
    def search_docs(self, query: Query, offset: int, first: int
                    ) -> tuple[list[tuple[int, SearchDoc]], int]:
        w, scope = query.words, _scope(query)
        name, fld = _all_words(w, ["tName"]), _all_words(w, ["tField"])
        labels = _all_words(w, ["tTags", "tOwners", "tClasses"])
        everything = _all_words(w, _FIELDS)
        tiers = [
            (search.NAME, f"+({name}) {scope}"),
            (search.FIELD, f"+({fld}) {scope}"),
            (search.LABEL, f"+({labels}) -({name}) -({fld}) {scope}"),
            (search.TEXT, f"+({everything}) -({name}) -({fld}) -({labels}) {scope}"),
        ]
        # The count reads every match (~20 ms per 100,000 on 2 cores): it runs beside the
        # page's reads, on another connection, and is waited for only when the page is full.
        total = self._read_beside(f"CALL db.index.fulltext.queryNodes('{INDEX}', $q)"
                                  " YIELD node RETURN count(node) AS n",
                                  q=f"+({everything}) {scope}")
        want = offset + first
        found: list[tuple[int, dict[str, Any]]] = []
        params = {"q": query.lname, "kinds": list(query.types), "ns": query.namespace}
        ns = "" if query.namespace is None else " AND s.namespace = $ns"
        # The exact and the prefix tier in one round trip.
        found += sorted(((r["tier"], r["s"]) for r in self._read(
            f"CALL {{ MATCH (s:SearchDoc) WHERE s.lname = $q AND s.kind IN $kinds{ns}"
            f" RETURN {search.EXACT} AS tier, s ORDER BY s.key LIMIT $n UNION ALL"
            f" MATCH (s:SearchDoc) WHERE s.lname STARTS WITH $q AND s.lname <> $q"
            f" AND s.kind IN $kinds{ns} RETURN {search.PREFIX} AS tier, s"
            f" ORDER BY s.lname, s.key LIMIT $n }} RETURN tier, s {_SHOWN} AS s",
            **params, n=want)), key=lambda r: -r[0])[:want]
        # The name and field tiers in one round trip (each cheap: no exclusion), the label
        # and text tiers (which exclude the ones above) only when the page still needs them.
        for group in (tiers[:2], tiers[2:3], tiers[3:]):
            if len(found) >= want:
                break
            parts = [
                f"CALL db.index.fulltext.queryNodes('{INDEX}', $lucene{i}) YIELD node"
                + (" WHERE NOT coalesce(node.lname, '') STARTS WITH $q"
                   if tier == search.NAME else "")
                + f" RETURN {tier} AS tier, node AS s LIMIT $n"
                for i, (tier, _) in enumerate(group)]
            found += sorted(((r["tier"], r["s"]) for r in self._read(
                "CALL { " + " UNION ALL ".join(parts) + f" }} RETURN tier, s {_SHOWN} AS s",
                **{f"lucene{i}": lucene for i, (_, lucene) in enumerate(group)}, **params,
                n=want - len(found))), key=lambda r: -r[0])
        # Not a full page: every tier was read to its end, and the tiers partition the
        # matches, so the count is what was found.
        count = int(total.result()[0]["n"]) if len(found) >= want else len(found)
        return [(t, _doc(n)) for t, n in found[offset:want]], count

