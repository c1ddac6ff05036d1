"""Catalog search on SQLite FTS5: ``search_docs`` holds one row per document (what a hit
shows, and the lower-cased name the exact and prefix tiers range over), ``search_fts`` its
words. Both are rewritten in the write's own transaction (``reindex``), for the nodes whose
searchable metadata changed.

The FTS5 table keeps which column holds a word but not where (``detail=column``): queries
are words, never phrases, so positions would only cost writes. A tier is one FTS5
expression over column filters, each excluding the tiers above it, so the tiers partition
what the query matches and each is read in rowid order with a LIMIT: a page costs the rows it
shows plus one count, however many documents match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from headwater.catalog import search
from headwater.catalog.embedded.connection import Connections, chunks
from headwater.catalog.errors import StoreError
from headwater.catalog.search import Query, SearchDoc

SEARCH_INDEX = """
CREATE TABLE IF NOT EXISTS search_docs (
  rowid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  node_id TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, field TEXT, lname TEXT,
  description TEXT, tags BLOB NOT NULL, owners BLOB NOT NULL, classifications BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS search_docs_node ON search_docs(node_id);
CREATE INDEX IF NOT EXISTS search_docs_lname ON search_docs(lname) WHERE lname IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
  name, field, tags, owners, classifications, description, scope,
  tokenize = 'unicode61 remove_diacritics 2', detail = column, columnsize = 0);
CREATE TABLE IF NOT EXISTS search_seen (
  node_id TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID;
"""


def require_fts5(db: sqlite3.Connection) -> None:
    """Search needs FTS5, which Python's sqlite3 ships with on the platforms we support; a
    SQLite built without it is refused at open, saying so."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp.headwater_fts5_probe USING fts5(x)")
        db.execute("DROP TABLE temp.headwater_fts5_probe")
    except sqlite3.OperationalError as exc:
        raise StoreError(
            f"this Python's SQLite ({sqlite3.sqlite_version}) has no FTS5, which catalog search"
            f" needs ({exc}); use a Python whose sqlite3 module includes FTS5 (the python.org"
            " and Debian/Ubuntu builds do), or the Neo4j store") from exc


def build_index(db: sqlite3.Connection) -> None:
    """The migration step: index every dataset and job already stored."""
    for statement in search_statements():
        db.execute(statement)
    ids = [r[0] for r in db.execute("SELECT id FROM datasets UNION ALL SELECT id FROM jobs")]
    reindex(db, ids)


def search_statements() -> list[str]:
    from headwater.catalog.embedded.schema import statements

    return list(statements(SEARCH_INDEX))


def _in(db: sqlite3.Connection, sql: str, ids: Sequence[str]) -> list[tuple]:  # type: ignore[type-arg]
    rows: list[tuple] = []  # type: ignore[type-arg]
    for chunk in chunks(list(ids)):
        rows += db.execute(sql.format(ids=",".join("?" * len(chunk))), chunk).fetchall()
    return rows


_EMPTY = orjson.dumps([])


def _json(values: Sequence[str]) -> bytes:
    return orjson.dumps(values) if values else _EMPTY


def write_docs(db: sqlite3.Connection, docs: Sequence[SearchDoc]) -> None:
    """Add these documents to the index (the caller has deleted any they replace). On the
    write path of every new dataset and job: one pass, each row built once."""
    start = db.execute("SELECT coalesce(max(rowid), 0) FROM search_docs").fetchone()[0] + 1
    rows, words = [], []
    scopes: dict[tuple[str, str], str] = {}
    for rowid, d in enumerate(docs, start):
        scope = scopes.get((d.kind, d.namespace))
        if scope is None:
            scope = scopes[d.kind, d.namespace] = d.scope
        rows.append((rowid, d.key, d.kind, d.node_id, d.namespace, d.name, d.field, d.lname,
                     d.description, _json(d.tags), _json(d.owners), _json(d.classifications)))
        words.append((rowid, *d.columns(), scope))
    db.executemany(
        "INSERT INTO search_docs(rowid, key, kind, node_id, namespace, name, field, lname,"
        " description, tags, owners, classifications) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany(
        "INSERT INTO search_fts(rowid, name, field, tags, owners, classifications, description,"
        " scope) VALUES (?,?,?,?,?,?,?,?)", words)


def reindex(db: sqlite3.Connection, node_ids: Sequence[str],
            digests: dict[str, str] | None = None) -> None:
    """Rewrite the documents of these datasets and jobs from what is stored, inside the
    caller's transaction; remember ``digests`` (``search.contributions``) as indexed."""
    if not node_ids:
        return
    old = [(r[0],) for r in _in(db, "SELECT rowid FROM search_docs WHERE node_id IN ({ids})",
                                node_ids)]
    db.executemany("DELETE FROM search_fts WHERE rowid = ?", old)
    db.executemany("DELETE FROM search_docs WHERE rowid = ?", old)
    tags: dict[str, list[str]] = {}
    owners: dict[str, list[str]] = {}
    for node, tag in _in(db, "SELECT node_id, tag FROM tags WHERE node_id IN ({ids})", node_ids):
        tags.setdefault(node, []).append(tag)
    for node, owner in _in(db, "SELECT node_id, owner FROM owners WHERE node_id IN ({ids})",
                           node_ids):
        owners.setdefault(node, []).append(owner)
    classes: dict[str, dict[str, set[str]]] = {}
    for ds, fld, cls in _in(db, "SELECT dataset_id, field, classification FROM"
                            " field_classifications WHERE dataset_id IN ({ids})", node_ids):
        classes.setdefault(ds, {}).setdefault(fld, set()).add(cls)
    fields: dict[str, list[tuple[str, str | None]]] = {}
    for ds, body in _in(db, "SELECT dataset_id, fields FROM schema_versions s"
                        " WHERE dataset_id IN ({ids}) AND version = (SELECT max(version)"
                        " FROM schema_versions WHERE dataset_id = s.dataset_id)", node_ids):
        fields[ds] = [(n, d) for n, _, d in orjson.loads(body)]
    docs: list[SearchDoc] = []
    for ds, ns, name, desc in _in(db, "SELECT id, namespace, name, description FROM datasets"
                                  " WHERE id IN ({ids})", node_ids):
        docs += search.dataset_docs(ds, ns, name, desc, tags.get(ds, []), owners.get(ds, []),
                                    fields.get(ds, []), classes.get(ds, {}))
    for job, ns, name, desc in _in(db, "SELECT id, namespace, name, description FROM jobs"
                                   " WHERE id IN ({ids})", node_ids):
        docs += search.job_docs(job, ns, name, desc, tags.get(job, []), owners.get(job, []))
    write_docs(db, docs)
    if digests:
        db.executemany("INSERT OR REPLACE INTO search_seen(node_id, digest) VALUES (?, ?)",
                       [(n, digests[n]) for n in node_ids if n in digests])
    else:  # a steward's edit: the next event re-indexes the node whatever it says
        db.executemany("DELETE FROM search_seen WHERE node_id = ?", [(n,) for n in node_ids])


def reindex_touched(db: sqlite3.Connection, touched: dict[str, str],
                    known: dict[str, str] | None = None) -> dict[str, str]:
    """Re-index the nodes an event batch changed the searchable metadata of. ``known``: the
    digests this writer knows the index holds (``IndexedDigests``), spared the look-up.
    Returns the digest each looked-up node's documents are written for once this commits."""
    known = known or {}
    todo = {n: d for n, d in touched.items()
            if n not in known or (d != search.LINEAGE_ONLY and known[n] != d)}
    if not todo:
        return {}
    seen = dict(_in(db, "SELECT node_id, digest FROM search_seen WHERE node_id IN ({ids})",
                    list(todo)))
    stale = search.stale(todo, seen)
    if stale:
        reindex(db, stale, touched)
    return {**{n: seen[n] for n in todo if n in seen}, **{n: touched[n] for n in stale}}


class IndexedDigests:
    """The digest each node's documents were last written for, as the writer knows from its
    own event writes: a batch skips the look-up (``search_seen``) of the nodes it names that
    the writer already knows. Trusted only while nothing else has written: no other
    connection (SQLite's ``PRAGMA data_version`` is unchanged) and nothing else on this one
    (the writer's ``total_changes`` is where the last event write left it: a steward's edit,
    a migration or a rolled-back write moves it)."""

    LIMIT = 500_000  # nodes remembered; past it, start again

    def __init__(self) -> None:
        self._digests: dict[str, str] = {}
        self._mark: tuple[int, int] | None = None

    @staticmethod
    def state(db: sqlite3.Connection) -> tuple[int, int]:
        """Where the file stands, as the writer sees it (its own commit changes neither)."""
        return int(db.execute("PRAGMA data_version").fetchone()[0]), db.total_changes

    def known(self, db: sqlite3.Connection) -> dict[str, str]:
        """At the start of an event write's transaction, before it writes anything."""
        if self._mark != self.state(db):
            self._digests.clear()
        return self._digests

    def forget(self) -> None:
        self._digests.clear()
        self._mark = None

    def written(self, digests: dict[str, str], mark: tuple[int, int]) -> None:
        """Once that write committed: its nodes' documents are written for ``digests``;
        ``mark``: ``state`` read at the end of its transaction."""
        if len(self._digests) + len(digests) > self.LIMIT:
            self._digests.clear()
        self._digests.update(digests)
        self._mark = mark


def _phrase(words: Sequence[str], columns: str | None = None) -> str:
    """Every word (the last as a prefix) in the columns; words are letters and digits only
    (``search.parse``), quoted all the same so that none reads as an operator."""
    body = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
    return f"{{{columns or ' '.join(search.COLUMNS)}}} : ({body.strip()})"


def _scope(query: Query) -> str:
    kinds = " OR ".join(search.scope_token("kind:" + k) for k in query.types)
    out = f"{{scope}} : ({kinds})"
    if query.namespace is not None:
        out += f" AND {{scope}} : {search.scope_token('ns:' + query.namespace)}"
    return out


def _doc(row: sqlite3.Row) -> SearchDoc:
    return SearchDoc(row["kind"], row["node_id"], row["namespace"], row["name"], row["field"],
                     row["description"], tuple(orjson.loads(row["tags"])),
                     tuple(orjson.loads(row["owners"])),
                     tuple(orjson.loads(row["classifications"])))


class SearchIndex(Connections):
    def search_docs(self, query: Query, offset: int, first: int
                    ) -> tuple[list[tuple[int, SearchDoc]], int]:
        w = query.words
        scope = _scope(query)
        name, fld = _phrase(w, "name"), _phrase(w, "field")
        labels = _phrase(w, "tags owners classifications")
        tiers = [
            (search.NAME, f"({name}) AND {scope}"),
            (search.FIELD, f"({fld}) AND {scope}"),
            (search.LABEL, f"(({labels}) NOT ({name}) NOT ({fld})) AND {scope}"),
            (search.TEXT, f"(({_phrase(w)}) NOT ({name}) NOT ({fld}) NOT ({labels}))"
                          f" AND {scope}"),
        ]
        total = self._db.execute("SELECT count(*) FROM search_fts WHERE search_fts MATCH ?",
                                 (f"({_phrase(w)}) AND {scope}",)).fetchone()[0]
        want = offset + first
        found: list[tuple[int, int]] = []  # (tier, rowid)
        lo, hi = query.lname, query.lname + "\U0010ffff"
        kinds = ",".join(f"'{k}'" for k in query.types)  # from search.TYPES only
        ns = "" if query.namespace is None else " AND namespace = :ns"
        params = {"q": lo, "hi": hi, "ns": query.namespace}
        if "FIELD" not in query.types or len(query.types) > 1:
            for tier, cond in ((search.EXACT, "lname = :q"),
                               (search.PREFIX, "lname > :q AND lname < :hi")):
                if len(found) >= want:
                    break
                found += [(tier, r[0]) for r in self._db.execute(
                    f"SELECT rowid FROM search_docs WHERE {cond} AND kind IN ({kinds}){ns}"
                    " ORDER BY lname, rowid LIMIT :n", {**params, "n": want - len(found)})]
        for tier, expr in tiers:
            if len(found) >= want:
                break
            exclude = (" AND NOT (coalesce(d.lname, '') >= :q AND coalesce(d.lname, '') < :hi)"
                       if tier == search.NAME else "")
            found += [(tier, r[0]) for r in self._db.execute(
                "SELECT f.rowid FROM search_fts f JOIN search_docs d ON d.rowid = f.rowid"
                f" WHERE search_fts MATCH :expr{exclude} ORDER BY f.rowid LIMIT :n",
                {**params, "expr": expr, "n": want - len(found)})]
        page = found[offset:want]
        rows = {r["rowid"]: r for r in self._rows(
            f"SELECT * FROM search_docs WHERE rowid IN ({','.join('?' * len(page))})",
            [r for _, r in page])} if page else {}
        return [(tier, _doc(rows[r])) for tier, r in page if r in rows], int(total)
