"""The Neo4j store: Neo4j 5 over Bolt with the official driver.

Graph: ``(:Dataset)-[:INPUT_TO]->(:Job)-[:PRODUCES]->(:Dataset)``, ``(:Field)-[:DERIVES]->(:Field)``
for column lineage, ``(:Run)`` linked to its job and to the datasets it read and wrote, plus
schema versions, facets, quality results, events (for idempotency), dead letters, decisions,
erasure requests, tokens and the schema version node.

One mixin per concern, each over ``Connection`` (the driver, reads, the write transaction).
"""

from __future__ import annotations

from headwater.catalog.neo4j.decisions import Decisions
from headwater.catalog.neo4j.erasures import Erasures
from headwater.catalog.neo4j.impact import Impact
from headwater.catalog.neo4j.lineage import LineageReads
from headwater.catalog.neo4j.migrations import Migrations
from headwater.catalog.neo4j.reads import CatalogReads
from headwater.catalog.neo4j.search import SearchIndex
from headwater.catalog.neo4j.stewardship import Stewardship
from headwater.catalog.neo4j.tokens import Tokens
from headwater.catalog.neo4j.writes import EventWrites


class Neo4jStore(Migrations, EventWrites, CatalogReads, LineageReads, Impact, Decisions,
                 Erasures, Stewardship, Tokens, SearchIndex):
    """Every role of ``catalog.store.Store``. Opening checks the server answers; ``migrate``
    (run by ``open_store``) creates and updates the schema."""
