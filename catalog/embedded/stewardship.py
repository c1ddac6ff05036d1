"""A steward's edits: classifications, tags, retention, declassified derivations; each its own
transaction, the search index rewritten in it. An edit of what events also say (tags,
classifications) clears the dataset's facts digest: its next event is written in full
(catalog/facts.py), so it can put back a tag the steward removed, as it always could."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from headwater.catalog.embedded.connection import Connections
from headwater.catalog.embedded.search import reindex


def forget_facts(db: sqlite3.Connection, dataset_id: str) -> None:
    db.execute("UPDATE datasets SET facts_digest = NULL WHERE id = ?", (dataset_id,))


class StewardEdits(Connections):
    def classify_field(self, dataset_id: str, field: str, classifications: Sequence[str]) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM field_classifications WHERE dataset_id = ? AND field = ?"
                       " AND source = 'steward'", (dataset_id, field))
            db.executemany("INSERT OR IGNORE INTO field_classifications(dataset_id, field,"
                           " classification, source) VALUES (?, ?, ?, 'steward')",
                           [(dataset_id, field, c) for c in classifications])
            forget_facts(db, dataset_id)
            reindex(db, [dataset_id])

    def tag_dataset(self, dataset_id: str, tags: Sequence[str], add: bool = True) -> None:
        sql = ("INSERT OR IGNORE INTO tags(node_id, tag) VALUES (?, ?)" if add
               else "DELETE FROM tags WHERE node_id = ? AND tag = ?")
        with self._transaction() as db:
            db.executemany(sql, [(dataset_id, t) for t in tags])
            forget_facts(db, dataset_id)
            reindex(db, [dataset_id])

    def set_retention(self, dataset_id: str, days: int | None) -> None:
        self._edit(("UPDATE datasets SET retention_days = ? WHERE id = ?", (days, dataset_id)))

    def declassify_edge(self, source_field_id: str, target_field_id: str, on: bool = True) -> None:
        sql = ("INSERT OR IGNORE INTO declassified_edges(source_id, target_id) VALUES (?, ?)" if on
               else "DELETE FROM declassified_edges WHERE source_id = ? AND target_id = ?")
        self._edit((sql, (source_field_id, target_field_id)))
