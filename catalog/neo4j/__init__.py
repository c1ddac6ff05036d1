"""The Neo4j store: Neo4j 5 over Bolt with the official driver."""

from headwater.catalog.neo4j.store import Neo4jStore

__all__ = ["Neo4jStore"]
