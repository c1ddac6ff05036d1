"""The embedded store: SQLite in WAL mode, one file under the data directory."""

from headwater.catalog.embedded.store import EmbeddedStore

__all__ = ["EmbeddedStore"]
