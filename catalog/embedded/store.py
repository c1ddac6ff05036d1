"""The embedded store: SQLite in WAL mode, in one file under the data directory.

Why SQLite: it ships with Python (no server, nothing to install), it is a real transactional
database with durable commits (``synchronous=FULL``), WAL lets readers run beside the one writer,
and recursive CTEs give single-query graph traversal.

``EmbeddedStore`` is the sum of one part per concern, each a module of this package over the
shared ``Connections`` (the writer, the per-thread readers, the one transaction helper).
"""

from __future__ import annotations

from pathlib import Path

from headwater.catalog.embedded.decisions import Decisions
from headwater.catalog.embedded.erasures import Erasures
from headwater.catalog.embedded.impact import ImpactReads
from headwater.catalog.embedded.lineage import LineageReads
from headwater.catalog.embedded.migrations import SchemaVersions
from headwater.catalog.embedded.reads import CatalogReads
from headwater.catalog.embedded.search import SearchIndex, require_fts5
from headwater.catalog.embedded.stewardship import StewardEdits
from headwater.catalog.embedded.tokens import Tokens
from headwater.catalog.embedded.writes import EventWrites


class EmbeddedStore(EventWrites, CatalogReads, LineageReads, ImpactReads, Decisions, Erasures,
                    StewardEdits, Tokens, SearchIndex, SchemaVersions):
    """Every role of ``headwater.catalog.store.Store`` on one SQLite file. Open it with
    ``open_store("embedded", path=...)``, which runs the schema migrations."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        try:
            require_fts5(self._writer)
        except BaseException:
            self.close()
            raise
